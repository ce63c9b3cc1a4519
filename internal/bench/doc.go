// Package bench is mqkit's MQTT load generator: it speaks MQTT directly
// over TCP through internal/mqtt (no client library) and measures a broker
// in five scenarios:
//
//   - p2p: N publishers, each on its own topic, to N subscribers;
//   - fanout: one publisher to M subscribers of one topic;
//   - latency: a fixed publish rate, reporting publish→deliver percentiles;
//   - idle: C idle connections, reporting broker RSS per connection;
//   - slow: one publisher flat out with a normal subscriber, then with a
//     slow one too that alternates pauses with quick drains (slow.go),
//     reporting the publisher's msgs/s in each phase and its longest stall.
//
// Every message carries a stamp (run, publisher, sequence number, send
// time) so that loss, duplicates and reordering are computed exactly per
// publisher and subscriber, and latency without clock skew (sender and
// receiver share one process and one monotonic clock).
//
// Every run is bounded: message counts and durations have hard caps,
// every network step has a deadline, and a monitor stops the run and
// reports the loss when messages stop arriving for Config.Stall.
package bench
