// Command mqsub subscribes to MQTT topics and prints the messages; it is a
// drop-in replacement for mosquitto_sub (see mqsub --help).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mqkit/mqkit/internal/clicmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := clicmd.Run(ctx, clicmd.NewSubApp(os.Stdin, os.Stdout, os.Stderr), os.Args)
	stop()
	os.Exit(code)
}
