// Command mqbroker is an MQTT 3.1, 3.1.1 and 5.0 broker.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/version"
)

func main() {
	app := &cli.App{
		Name:    "mqbroker",
		Usage:   "an MQTT 3.1 / 3.1.1 / 5.0 broker",
		Version: version.Version,
		Action: func(c *cli.Context) error {
			return cli.Exit("mqbroker: not implemented yet", 1)
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
