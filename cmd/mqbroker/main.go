// Command mqbroker is an MQTT 3.1, 3.1.1 and 5.0 broker, compatible with
// mosquitto's command line, configuration files, password and ACL files.
package main

import (
	"os"

	"github.com/mqkit/mqkit/internal/brokercmd"
)

func main() {
	os.Exit(brokercmd.Main(os.Args, os.Stdout, os.Stderr))
}
