// Command mqpub publishes MQTT messages; it is a drop-in replacement for
// mosquitto_pub (see mqpub --help).
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
	code := clicmd.Run(ctx, clicmd.NewPubApp(os.Stdin, os.Stdout, os.Stderr), os.Args)
	stop()
	os.Exit(code)
}
