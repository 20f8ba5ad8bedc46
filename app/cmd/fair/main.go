// Command fair runs Miaohui: the HTTP server, the background workers, the
// migrations and the operator's tools. See `fair help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"miaohui/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fair:", err)
		os.Exit(1)
	}
}
