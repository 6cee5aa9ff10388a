// Command pacer is the pipeline bench's load generator: it sends each request of a
// targets file once, at a fixed rate (open loop: request n is due at start + n/rate
// whether or not earlier ones were answered), over keep-alive HTTP/1.1 connections, and
// writes one JSON line per request.
//
// It does what bench/pipeline.py asked of vegeta (`attack -lazy -rate`) for a fraction of
// its CPU: every request is serialised once before the run, and a connection's goroutine
// writes those bytes and reads the answer, with no client library between. The bench
// shares two cores with the system it measures (as the SMTP sink does), so what the
// generator spends is taken from the services.
//
// Input: the targets file in vegeta's JSON format (method, url, header, body in base64),
// one per line, all to one host. Output (-output): per request, in order, the fields of
// `vegeta encode --to=json` the bench reads: seq, timestamp (RFC 3339, when it was
// written to the connection), code (0 when no answer), latency (ns), error, and due.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

type target struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body"`
}

type result struct {
	Seq       int    `json:"seq"`
	Timestamp string `json:"timestamp"`
	Due       string `json:"due"`
	Code      int    `json:"code"`
	Latency   int64  `json:"latency"`
	Error     string `json:"error"`
}

type hit struct {
	sent    time.Time
	due     time.Time
	code    int
	latency time.Duration
	err     string
}

// readTargets serialises every target as the bytes of an HTTP/1.1 request to one host.
func readTargets(path string) (string, [][]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	var host string
	var requests [][]byte
	for line := 1; scanner.Scan(); line++ {
		if len(bytes.TrimSpace(scanner.Bytes())) == 0 {
			continue
		}
		var t target
		if err := json.Unmarshal(scanner.Bytes(), &t); err != nil {
			return "", nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		parsed, err := url.Parse(t.URL)
		if err != nil || parsed.Scheme != "http" || parsed.Host == "" {
			return "", nil, fmt.Errorf("%s:%d: not an http:// URL: %q", path, line, t.URL)
		}
		if host == "" {
			host = parsed.Host
		} else if parsed.Host != host {
			return "", nil, fmt.Errorf("%s:%d: every target must go to %s, not %s", path, line, host, parsed.Host)
		}
		body, err := base64.StdEncoding.DecodeString(t.Body)
		if err != nil {
			return "", nil, fmt.Errorf("%s:%d: body: %w", path, line, err)
		}
		var raw bytes.Buffer
		method := t.Method
		if method == "" {
			method = "GET"
		}
		fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, parsed.RequestURI(), host)
		for name, values := range t.Header {
			if strings.EqualFold(name, "Host") || strings.EqualFold(name, "Content-Length") {
				continue
			}
			for _, value := range values {
				fmt.Fprintf(&raw, "%s: %s\r\n", name, value)
			}
		}
		fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n", len(body))
		raw.Write(body)
		requests = append(requests, raw.Bytes())
	}
	if err := scanner.Err(); err != nil {
		return "", nil, err
	}
	if len(requests) == 0 {
		return "", nil, errors.New(path + ": no targets")
	}
	return host, requests, nil
}

// connection is one keep-alive connection, dialled on first use and again after a failure.
type connection struct {
	host    string
	timeout time.Duration
	conn    net.Conn
	reader  *bufio.Reader
}

func (c *connection) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// do sends one request and reads its answer whole; the connection is kept unless the
// exchange failed or the server asked to close it.
func (c *connection) do(request []byte, h *hit) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.host, c.timeout)
		if err != nil {
			h.sent = time.Now()
			h.err = err.Error()
			return
		}
		c.conn = conn
		c.reader = bufio.NewReaderSize(conn, 16<<10)
	}
	h.sent = time.Now()
	c.conn.SetDeadline(h.sent.Add(c.timeout))
	if _, err := c.conn.Write(request); err != nil {
		h.err = err.Error()
		c.close()
		return
	}
	response, err := http.ReadResponse(c.reader, nil)
	if err == nil {
		_, err = io.Copy(io.Discard, response.Body)
		response.Body.Close()
	}
	h.latency = time.Since(h.sent)
	if err != nil {
		h.err = err.Error()
		c.close()
		return
	}
	h.code = response.StatusCode
	if response.Close {
		c.close()
	}
}

func main() {
	targets := flag.String("targets", "", "targets file (vegeta's JSON format)")
	output := flag.String("output", "", "results file (JSON lines)")
	rate := flag.Float64("rate", 0, "requests per second")
	timeout := flag.Duration("timeout", 30*time.Second, "per request: dial, write and answer")
	maxConnections := flag.Int("max-connections", 20000, "connections at most (more wait: their lag is reported)")
	tick := flag.Duration("tick", 0, "wake at most once per tick and send what is due (0: wake for each request)")
	flag.Parse()
	if *targets == "" || *output == "" || *rate <= 0 || *maxConnections < 1 {
		fmt.Fprintln(os.Stderr, "usage: pacer -targets FILE -output FILE -rate N [-timeout 30s] [-max-connections 20000]")
		os.Exit(2)
	}
	host, requests, err := readTargets(*targets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pacer:", err)
		os.Exit(1)
	}
	hits := make([]hit, len(requests))
	jobs := make(chan int)
	var workers sync.WaitGroup
	started := 0
	startWorker := func() {
		started++
		workers.Add(1)
		go func() {
			defer workers.Done()
			c := &connection{host: host, timeout: *timeout}
			defer c.close()
			for n := range jobs {
				c.do(requests[n], &hits[n])
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	for n := range requests {
		due := start.Add(time.Duration(n) * interval)
		if wait := time.Until(due); wait > 0 {
			if wait < *tick {
				wait = *tick
			}
			time.Sleep(wait)
		}
		hits[n].due = due
		select {
		case jobs <- n:
		default:
			if started < *maxConnections {
				startWorker()
			}
			jobs <- n
		}
	}
	close(jobs)
	workers.Wait()

	out, err := os.Create(*output)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pacer:", err)
		os.Exit(1)
	}
	writer := bufio.NewWriter(out)
	encoder := json.NewEncoder(writer)
	for n, h := range hits {
		encoder.Encode(result{
			Seq:       n,
			Timestamp: h.sent.UTC().Format(time.RFC3339Nano),
			Due:       h.due.UTC().Format(time.RFC3339Nano),
			Code:      h.code,
			Latency:   h.latency.Nanoseconds(),
			Error:     h.err,
		})
	}
	if err := writer.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "pacer:", err)
		os.Exit(1)
	}
	out.Close()
	fmt.Fprintf(os.Stderr, "pacer: %d requests at %g/s over %d connections in %s\n",
		len(requests), *rate, started, time.Since(start).Round(time.Millisecond))
}
