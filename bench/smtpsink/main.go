// smtpsink: the benches' SMTP server, compiled (standard library only).
//
// It accepts every mail and counts it; with -keep it also keeps each mail's
// bytes as received after dot-unstuffing (aiosmtpd's original_content) with its
// arrival time, until the bench takes them. It answers the notifier's client
// (services/notifier/smtp.py) as bench/smtp_sink.py's aiosmtpd server does: the
// same replies, codes and sequence errors (aiosmtpd 1.4's smtp.py is the model:
// the reply texts are its texts), the same EHLO extensions, and the replies to
// pipelined commands written as one group (RFC 2920).
//
// The bench talks to it over stdin/stdout (bench/smtp_sink.py): see control().
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// aiosmtpd's DATA_SIZE_DEFAULT (2**25): offered in EHLO as SIZE (RFC 1870).
	defaultSizeLimit = 1 << 25
	// aiosmtpd's line_length_limit: its StreamReader's limit, so a command or a
	// content line may be this long with its CRLF (RFC 5321 §4.5.3.1.6 says 1000).
	lineLengthLimit = 1001
	// aiosmtpd's command_size_limit (RFC 5321 §4.5.3.1.4 says 512 with CRLF);
	// MAIL gets 26 more once EHLO offered SIZE (RFC 1870 §3) and 10 more for
	// SMTPUTF8 (RFC 6531 §3.4).
	commandSizeLimit  = 512
	mailSizeExtension = 26 + 10
	// aiosmtpd's BOGUS_LIMIT: the fifth unknown command ends the session.
	bogusLimit = 5
	// Reads and writes of many small pipelined groups: one syscall each way.
	bufferSize = 64 * 1024
	// A client silent this long is dropped without a reply, as aiosmtpd does
	// after its default 300 s (RFC 5321 §4.5.3.2.7: at least 5 minutes).
	idleTimeout = 5 * time.Minute
)

// The commands aiosmtpd's HELP lists (those with a syntax; STARTTLS needs TLS).
var syntaxes = map[string]string{
	"AUTH": "AUTH <mechanism>",
	"DATA": "DATA",
	"EHLO": "EHLO hostname",
	"HELO": "HELO hostname",
	"HELP": "HELP [command]",
	"MAIL": "MAIL FROM: <address>",
	"NOOP": "NOOP [ignored]",
	"QUIT": "QUIT",
	"RCPT": "RCPT TO: <address>",
	"RSET": "RSET",
	"VRFY": "VRFY <address>",
}

var extendedSyntaxes = map[string]string{
	"MAIL": " [SP <mail-parameters>]",
	"RCPT": " [SP <mail-parameters>]",
}

var supportedCommands = func() string {
	names := make([]string, 0, len(syntaxes))
	for name := range syntaxes {
		names = append(names, name)
	}
	sort.Strings(names)
	return "Supported commands: " + strings.Join(names, " ")
}()

// arrival is one mail kept for the bench: when its end-of-data line was read
// (Unix nanoseconds, wall clock) and its content.
type arrival struct {
	at      int64
	content []byte
}

// mailbox is what every connection reports to and the bench reads.
type mailbox struct {
	keep     bool
	mu       sync.Mutex
	count    uint64
	lastAt   int64
	arrivals []arrival
}

func (m *mailbox) received(content []byte) {
	at := time.Now().UnixNano()
	m.mu.Lock()
	m.count++
	m.lastAt = at
	if m.keep {
		m.arrivals = append(m.arrivals, arrival{at, content})
	}
	m.mu.Unlock()
}

type server struct {
	hostname  string
	sizeLimit int
	box       *mailbox
}

// session is one SMTP connection (RFC 5321 §4.1.4: the order of commands).
type session struct {
	srv      *server
	conn     net.Conn
	r        *bufio.Reader
	w        *bufio.Writer
	greeted  bool // HELO or EHLO done
	extended bool // by EHLO
	mailFrom bool // MAIL accepted: a transaction is open
	rcpts    int
	bogus    int
	closing  bool
}

var errLineTooLong = errors.New("line too long")

func main() {
	keep := flag.Bool("keep", false, "keep every mail's bytes until the bench takes them")
	sizeLimit := flag.Int("size", defaultSizeLimit, "SIZE offered in EHLO; longer mails are refused (552)")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	hostname, err := os.Hostname()
	if err != nil {
		hostname = "localhost"
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
	srv := &server{hostname: hostname, sizeLimit: *sizeLimit, box: &mailbox{keep: *keep}}
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				var temporary interface{ Temporary() bool }
				if errors.As(err, &temporary) && temporary.Temporary() {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				fmt.Fprintln(os.Stderr, "smtpsink: accept:", err)
				os.Exit(1)
			}
			go srv.serve(conn)
		}
	}()
	port := listener.Addr().(*net.TCPAddr).Port
	if err := control(os.Stdin, os.Stdout, uint16(port), srv.box); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink: control:", err)
		os.Exit(1)
	}
}

// control answers the bench on stdin/stdout, big-endian frames:
//
//	sink → bench at start:  "SINK" port:u16
//	'c' (count) → count:u64 last_arrival_ns:i64 (0 before any mail)
//	't' (take)  → n:u32, n × (arrival_ns:i64 length:u32 bytes); then forgotten
//	'q' or end of stdin → the sink exits (the bench went away, or is done)
func control(in io.Reader, out io.Writer, port uint16, box *mailbox) error {
	w := bufio.NewWriter(out)
	w.WriteString("SINK")
	binary.Write(w, binary.BigEndian, port)
	if err := w.Flush(); err != nil {
		return err
	}
	r := bufio.NewReader(in)
	for {
		request, err := r.ReadByte()
		if err == io.EOF || request == 'q' {
			return nil
		}
		if err != nil {
			return err
		}
		box.mu.Lock()
		switch request {
		case 'c':
			binary.Write(w, binary.BigEndian, box.count)
			binary.Write(w, binary.BigEndian, box.lastAt)
		case 't':
			taken := box.arrivals
			box.arrivals = nil
			box.mu.Unlock()
			binary.Write(w, binary.BigEndian, uint32(len(taken)))
			for _, a := range taken {
				binary.Write(w, binary.BigEndian, a.at)
				binary.Write(w, binary.BigEndian, uint32(len(a.content)))
				w.Write(a.content)
			}
			box.mu.Lock()
		default:
			box.mu.Unlock()
			return fmt.Errorf("unknown request %q", request)
		}
		box.mu.Unlock()
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

func (srv *server) serve(conn net.Conn) {
	defer conn.Close()
	s := &session{
		srv:  srv,
		conn: conn,
		r:    bufio.NewReaderSize(conn, bufferSize),
		w:    bufio.NewWriterSize(conn, bufferSize),
	}
	s.reply("220 " + srv.hostname + " omnidesk bench smtpsink")
	for !s.closing {
		line, err := s.readLine('\n')
		if errors.Is(err, errLineTooLong) {
			s.reply("500 Command line too long")
			continue
		}
		if err != nil {
			return // the client went away (or broke off in a line)
		}
		s.command(line)
	}
	s.w.Flush()
}

// reply queues one reply. RFC 2920 §3.2: the server may hold replies to
// pipelined commands while more of them are buffered; they go out in one write
// when the next read would wait (readLine), as Postfix's smtpd and the aiosmtpd
// sink's PipelinedReplies do. 221 goes out at once (the session ends).
func (s *session) reply(text string) {
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

// readLine returns the next line through sep (a command line: LF, as aiosmtpd
// reads them), valid until the next read (see beforeRead). A line longer than
// lineLengthLimit is read to its end and errLineTooLong returned.
func (s *session) readLine(sep byte) ([]byte, error) {
	if err := s.beforeRead(sep); err != nil {
		return nil, err
	}
	line, err := s.r.ReadSlice(sep)
	if err == nil {
		if len(line)-1 > lineLengthLimit { // aiosmtpd: separator found beyond its limit
			return nil, errLineTooLong
		}
		return line, nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	for err == bufio.ErrBufferFull { // drain the rest of the over-long line
		if err = s.beforeRead(sep); err != nil {
			return nil, err
		}
		_, err = s.r.ReadSlice(sep)
	}
	if err != nil {
		return nil, err
	}
	return nil, errLineTooLong
}

// beforeRead: when no whole line is buffered the next read waits for the client,
// so the replies held so far go out first (RFC 2920 §3.2) and the idle timer starts.
func (s *session) beforeRead(sep byte) error {
	if s.lineBuffered(sep) {
		return nil
	}
	if s.w.Buffered() > 0 {
		if err := s.w.Flush(); err != nil {
			return err
		}
	}
	return s.conn.SetReadDeadline(time.Now().Add(idleTimeout))
}

func (s *session) lineBuffered(sep byte) bool {
	buffered, _ := s.r.Peek(s.r.Buffered())
	return bytes.IndexByte(buffered, sep) >= 0
}

// command handles one command line as aiosmtpd's _handle_client does.
func (s *session) command(raw []byte) {
	line := bytes.TrimRight(raw, "\r\n")
	if len(line) == 0 {
		s.reply("500 Error: bad syntax")
		return
	}
	name, argBytes, _ := bytes.Cut(line, []byte(" "))
	if !isASCII(name) {
		s.reply("500 Error: bad syntax")
		return
	}
	command := strings.ToUpper(string(name))
	// SMTPUTF8 is offered (RFC 6531 §3.3): arguments may be UTF-8, taken as bytes.
	arg := string(bytes.TrimSpace(argBytes))
	limit := commandSizeLimit
	if s.extended && command == "MAIL" {
		limit += mailSizeExtension
	}
	if len(line) > limit {
		s.reply("500 Command line too long")
		return
	}
	switch command {
	case "HELO":
		s.helo(arg)
	case "EHLO":
		s.ehlo(arg)
	case "MAIL":
		s.mail(arg)
	case "RCPT":
		s.rcpt(arg)
	case "DATA":
		s.data(arg)
	case "RSET":
		if arg != "" {
			s.reply("501 Syntax: RSET")
			return
		}
		s.reset()
		s.reply("250 OK")
	case "NOOP":
		s.reply("250 OK")
	case "QUIT":
		if arg != "" {
			s.reply("501 Syntax: QUIT")
			return
		}
		s.reply("221 Bye")
		s.closing = true
	case "HELP":
		s.help(arg)
	case "VRFY":
		if arg == "" {
			s.reply("501 Syntax: VRFY <address>")
		} else if address, _, ok := parseAddress(arg); !ok || address == "" {
			s.reply("502 Could not VRFY " + arg)
		} else {
			s.reply("252 Cannot VRFY user, but will accept message and attempt delivery")
		}
	case "EXPN":
		s.reply("502 EXPN not implemented")
	case "STARTTLS":
		if arg != "" {
			s.reply("501 Syntax: STARTTLS")
		} else {
			s.reply("454 TLS not available")
		}
	case "AUTH":
		switch {
		case !s.greeted:
			s.reply("503 Error: send EHLO first")
		case !s.extended:
			s.reply("500 Error: command 'AUTH' not recognized")
		default: // RFC 4954 §4: no mechanism over plain text
			s.reply("538 5.7.11 Encryption required for requested authentication mechanism")
		}
	default:
		s.bogus++
		if s.bogus >= bogusLimit {
			s.reply("502 5.5.1 Too many unrecognized commands, goodbye.")
			s.closing = true
			return
		}
		s.reply(`500 Error: command "` + command + `" not recognized`)
	}
}

// reset ends the mail transaction (RFC 5321 §4.1.1.5, and after HELO/EHLO §4.1.4).
func (s *session) reset() {
	s.mailFrom = false
	s.rcpts = 0
}

func (s *session) helo(hostname string) {
	if hostname == "" {
		s.reply("501 Syntax: HELO hostname")
		return
	}
	s.reset()
	s.greeted, s.extended = true, false
	s.reply("250 " + s.srv.hostname)
}

// ehlo offers what the aiosmtpd sink offers: SIZE (RFC 1870), 8BITMIME
// (RFC 6152), SMTPUTF8 (RFC 6531), PIPELINING (RFC 2920), HELP (RFC 5321 §4.1.1.8).
func (s *session) ehlo(hostname string) {
	if hostname == "" {
		s.reply("501 Syntax: EHLO hostname")
		return
	}
	s.reset()
	s.greeted, s.extended = true, true
	s.reply("250-" + s.srv.hostname)
	s.reply("250-SIZE " + strconv.Itoa(s.srv.sizeLimit))
	s.reply("250-8BITMIME")
	s.reply("250-SMTPUTF8")
	s.reply("250-PIPELINING")
	s.reply("250 HELP")
}

func (s *session) help(arg string) {
	code := "250 "
	if arg != "" {
		name := strings.ToUpper(arg)
		if syntax, ok := syntaxes[name]; ok {
			if s.extended {
				syntax += extendedSyntaxes[name]
			}
			s.reply("250 Syntax: " + syntax)
			return
		}
		code = "501 "
	}
	s.reply(code + supportedCommands)
}

func (s *session) syntaxError(command string) {
	text := "501 Syntax: " + syntaxes[command]
	if s.extended {
		text += extendedSyntaxes[command]
	}
	s.reply(text)
}

// path: the parameters after MAIL FROM:<path> or RCPT TO:<path> (RFC 5321 §4.1.2), or
// false once the command's error is answered: 501 for its syntax, 553 for an address
// that does not parse, parameters only after EHLO.
func (s *session) path(command, keyword, arg string) (string, bool) {
	path, ok := stripKeyword(keyword, arg)
	if !ok {
		s.syntaxError(command)
		return "", false
	}
	address, params, ok := parseAddress(path)
	switch {
	case !ok:
		s.reply("553 5.1.3 Error: malformed address")
		return "", false
	case address == "" || (!s.extended && params != ""):
		s.syntaxError(command)
		return "", false
	}
	return params, true
}

// params: the command's parameters by keyword (RFC 5321 §4.1.2 esmtp-param), or false
// once its 501 is answered.
func (s *session) params(command, params string) (map[string]string, bool) {
	values, ok := parseParams(params)
	if !ok {
		s.syntaxError(command)
	}
	return values, ok
}

// mail: MAIL FROM:<reverse-path> [SP mail-parameters] (RFC 5321 §4.1.1.2, §4.1.2).
func (s *session) mail(arg string) {
	if !s.greeted {
		s.reply("503 Error: send HELO first")
		return
	}
	params, ok := s.path("MAIL", "FROM:", arg)
	if !ok {
		return
	}
	if s.mailFrom { // RFC 5321 §4.1.4: MAIL only outside a transaction
		s.reply("503 Error: nested MAIL command")
		return
	}
	values, ok := s.params("MAIL", params)
	if !ok {
		return
	}
	if body, given := values["BODY"]; given { // RFC 6152 §2
		if body != "7BIT" && body != "8BITMIME" {
			s.reply("501 Error: BODY can only be one of 7BIT, 8BITMIME")
			return
		}
		delete(values, "BODY")
	}
	if value, given := values["SMTPUTF8"]; given { // RFC 6531 §3.4: a keyword alone
		if value != flagParam {
			s.reply("501 Error: SMTPUTF8 takes no arguments")
			return
		}
		delete(values, "SMTPUTF8")
	}
	if size, given := values["SIZE"]; given && size != "" { // RFC 1870 §6
		if size == flagParam || !isDigits(size) {
			s.syntaxError("MAIL")
			return
		}
		if declared, err := strconv.ParseUint(size, 10, 64); err != nil || declared > uint64(s.srv.sizeLimit) {
			s.reply("552 Error: message size exceeds fixed maximum message size")
			return
		}
		delete(values, "SIZE")
	}
	if len(values) > 0 {
		s.reply("555 MAIL FROM parameters not recognized or not implemented")
		return
	}
	s.mailFrom = true
	s.reply("250 OK")
}

// rcpt: RCPT TO:<forward-path> (RFC 5321 §4.1.1.3); only after MAIL (§4.1.4).
func (s *session) rcpt(arg string) {
	if !s.greeted {
		s.reply("503 Error: send HELO first")
		return
	}
	if !s.mailFrom {
		s.reply("503 Error: need MAIL command")
		return
	}
	params, ok := s.path("RCPT", "TO:", arg)
	if !ok {
		return
	}
	values, ok := s.params("RCPT", params)
	if !ok {
		return
	}
	if len(values) > 0 {
		s.reply("555 RCPT TO parameters not recognized or not implemented")
		return
	}
	s.rcpts++
	s.reply("250 OK")
}

// data: DATA, then the content up to the line ".", each line ended by CRLF
// (RFC 5321 §4.1.1.4); a line's leading "." removed (§4.5.2). Over SIZE or over
// the line limit the content is read to its end and refused then, as aiosmtpd
// does (§4.2.5: the reply comes after the end of data).
func (s *session) data(arg string) {
	if !s.greeted {
		s.reply("503 Error: send HELO first")
		return
	}
	if s.rcpts == 0 {
		s.reply("503 Error: need RCPT command")
		return
	}
	if arg != "" {
		s.reply("501 Syntax: DATA")
		return
	}
	s.reply("354 End data with <CR><LF>.<CR><LF>")
	var content []byte
	keep := s.srv.box.keep
	tooLong, tooMuch := false, false
	size := 0
	lineLength := 0   // of the line read so far (a line may come in several slices)
	endsInCR := false // the previous slice of this line did (its LF may come next)
	for {
		if s.beforeRead('\n') != nil {
			s.closing = true
			return
		}
		piece, err := s.r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			s.closing = true // the client went away mid-content: nothing received
			return
		}
		if lineLength == 0 && len(piece) == 3 && piece[0] == '.' && piece[1] == '\r' && piece[2] == '\n' {
			break
		}
		size += len(piece)
		if !tooLong && !tooMuch && size > s.srv.sizeLimit {
			tooMuch, content = true, nil
		}
		// Only CRLF ends a content line (RFC 5321 §2.3.8): a bare LF is inside one.
		ends := err == nil && (len(piece) >= 2 && piece[len(piece)-2] == '\r' ||
			len(piece) == 1 && endsInCR)
		endsInCR = err != nil && piece[len(piece)-1] == '\r'
		if lineLength == 0 && piece[0] == '.' {
			piece = piece[1:]
			lineLength = 1
		}
		lineLength += len(piece)
		if !tooLong && !tooMuch && lineLength > lineLengthLimit {
			tooLong, content = true, nil
		}
		if keep && !tooLong && !tooMuch {
			content = append(content, piece...)
		}
		if ends {
			lineLength = 0
		}
	}
	s.reset()
	switch {
	case tooLong:
		s.reply("500 Line too long (see RFC5321 4.5.3.1.6)")
	case tooMuch:
		s.reply("552 Error: Too much mail data")
	default:
		if keep && content == nil {
			content = []byte{}
		}
		s.srv.box.received(content)
		s.reply("250 OK")
	}
}

const flagParam = "\x00" // a parameter given without "=value"

// parseParams: RFC 5321 §4.1.2 esmtp-param = esmtp-keyword ["=" esmtp-value],
// upper-cased as aiosmtpd does; a keyword that is not alphanumeric, or "=" with
// no value, is a syntax error.
func parseParams(params string) (map[string]string, bool) {
	fields := strings.Fields(strings.ToUpper(params))
	if len(fields) == 0 {
		return nil, true
	}
	values := make(map[string]string, len(fields))
	for _, field := range fields {
		keyword, value, eq := strings.Cut(field, "=")
		if keyword == "" || !isAlnum(keyword) || (eq && value == "") {
			return nil, false
		}
		if !eq {
			value = flagParam
		}
		values[keyword] = value
	}
	return values, true
}

func stripKeyword(keyword, arg string) (string, bool) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", false
	}
	return strings.TrimSpace(arg[len(keyword):]), true
}

// parseAddress reads a Path (RFC 5321 §4.1.2): "<" [A-d-l ":"] Mailbox ">", the
// null reverse-path "<>", or a bare mailbox as aiosmtpd also takes; then the
// parameters after it. ok is false for what is no path (553). Stricter than
// aiosmtpd's RFC 5322 parser in odd corners (an unclosed "<", a space inside).
func parseAddress(arg string) (address, params string, ok bool) {
	arg = strings.TrimLeft(arg, " \t")
	if arg == "" {
		return "", "", true
	}
	var mailbox string
	if arg[0] == '<' {
		end := strings.IndexByte(arg, '>')
		if end < 0 {
			return "", "", false
		}
		mailbox, params = arg[1:end], arg[end+1:]
		if mailbox == "" {
			return "<>", strings.TrimSpace(params), true
		}
		if mailbox[0] == '@' { // a source route: ignored (RFC 5321 §4.1.2, C.1)
			colon := strings.IndexByte(mailbox, ':')
			if colon < 0 {
				return "", "", false
			}
			mailbox = mailbox[colon+1:]
		}
	} else {
		mailbox, params, _ = strings.Cut(arg, " ")
	}
	if !validMailbox(mailbox) {
		return "", "", false
	}
	return mailbox, strings.TrimSpace(params), true
}

// validMailbox: Local-part ["@" Domain] (RFC 5321 §4.1.2), unquoted: printable
// ASCII or UTF-8 (RFC 6531 §3.3) without specials; the domain a name that neither starts nor ends in "."
// or an address literal in brackets (§4.1.3).
func validMailbox(mailbox string) bool {
	local, domain, at := cutLast(mailbox, '@')
	if local == "" || !atoms(local) {
		return false
	}
	if !at {
		return true
	}
	if len(domain) > 2 && domain[0] == '[' && domain[len(domain)-1] == ']' {
		inner := domain[1 : len(domain)-1]
		return printable(inner) && !strings.ContainsAny(inner, "[]\\")
	}
	return domain != "" && domain[0] != '.' && domain[len(domain)-1] != '.' && atoms(domain)
}

const specials = "<>()[],;:\\\"@"

func atoms(s string) bool {
	return printable(s) && !strings.ContainsAny(s, specials)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func cutLast(s string, sep byte) (before, after string, found bool) {
	if i := strings.LastIndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
