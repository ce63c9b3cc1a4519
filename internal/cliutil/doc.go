// Package cliutil holds the pure helpers of the mqpub and mqsub commands:
// mosquitto_sub's -F output formats (Format, Plain, Render), our NDJSON
// output (JSONLine), mosquitto-style -D properties (ApplyProperty), -L URLs
// (ParseURL), exit codes and failure hints (ExitCodesHelp, Hint, TLSHint),
// colour (SetupColor, Palette) and password resolution (ResolvePassword).
// Nothing here touches the network.
//
// Error convention: errors meant for the user carry mosquitto's complete
// message, "Error: " prefix included (e.g. "Error: Invalid format
// specifier 'y'."), so drop-in users see the same text; print
// err.Error() as is, without adding another prefix.
package cliutil
