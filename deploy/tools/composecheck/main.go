// composecheck loads and validates a Compose file with compose-go, the
// library Docker Compose v2 itself uses, without needing a Docker engine.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck COMPOSE_FILE [ENV_FILE]")
		os.Exit(2)
	}
	file, _ := filepath.Abs(os.Args[1])
	opts := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(filepath.Dir(file)), cli.WithOsEnv}
	if len(os.Args) > 2 {
		opts = append(opts, cli.WithEnvFiles(os.Args[2]), cli.WithDotEnv)
	}
	options, err := cli.NewProjectOptions([]string{file}, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "options:", err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid compose file:", err)
		os.Exit(1)
	}
	for _, name := range project.ServiceNames() {
		svc := project.Services[name]
		fmt.Printf("service %-14s image=%s depends_on=%d healthcheck=%t\n",
			name, svc.Image, len(svc.DependsOn), svc.HealthCheck != nil)
	}
	fmt.Printf("ok: %s (%d services, %d volumes)\n", project.Name, len(project.Services), len(project.Volumes))
}
