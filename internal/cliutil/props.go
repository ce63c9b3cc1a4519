package cliutil

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Command is a packet (or the will) that -D can attach properties to.
type Command int

const (
	CmdConnect Command = iota
	CmdPublish
	CmdSubscribe
	CmdUnsubscribe
	CmdDisconnect
	CmdWill
	CmdAuth
	CmdPuback
	CmdPubrec
	CmdPubrel
	CmdPubcomp
	numCommands
)

var commandNames = [numCommands]string{"connect", "publish", "subscribe", "unsubscribe",
	"disconnect", "will", "auth", "puback", "pubrec", "pubrel", "pubcomp"}

func (c Command) String() string {
	if c >= 0 && c < numCommands {
		return commandNames[c]
	}
	return "command(" + strconv.Itoa(int(c)) + ")"
}

// ParseCommand maps a -D command name (case-insensitive, as mosquitto's
// mosquitto_string_to_command) to a Command. The server-to-client packets
// connack, suback and unsuback are refused.
func ParseCommand(name string) (Command, bool) {
	for i, n := range commandNames {
		if strings.EqualFold(name, n) {
			return Command(i), true
		}
	}
	return 0, false
}

// PropertySet holds the -D properties given for each command.
type PropertySet struct {
	Connect, Publish, Subscribe, Unsubscribe, Disconnect, Will,
	Auth, Puback, Pubrec, Pubrel, Pubcomp mqtt.Properties
}

// For returns the properties of cmd (nil for an unknown command).
func (s *PropertySet) For(cmd Command) *mqtt.Properties {
	switch cmd {
	case CmdConnect:
		return &s.Connect
	case CmdPublish:
		return &s.Publish
	case CmdSubscribe:
		return &s.Subscribe
	case CmdUnsubscribe:
		return &s.Unsubscribe
	case CmdDisconnect:
		return &s.Disconnect
	case CmdWill:
		return &s.Will
	case CmdAuth:
		return &s.Auth
	case CmdPuback:
		return &s.Puback
	case CmdPubrec:
		return &s.Pubrec
	case CmdPubrel:
		return &s.Pubrel
	case CmdPubcomp:
		return &s.Pubcomp
	}
	return nil
}

// IsEmpty reports whether no -D property was given (mosquitto switches the
// client to MQTT v5 as soon as one is).
func (s *PropertySet) IsEmpty() bool {
	for c := Command(0); c < numCommands; c++ {
		if !s.For(c).IsEmpty() {
			return false
		}
	}
	return true
}

type propType uint8

const (
	ptByte propType = iota
	ptUint16
	ptUint32
	ptVarint
	ptString
	ptBinary
	ptPair
)

type propInfo struct {
	id   mqtt.PropID
	typ  propType
	cmds uint16 // bit set of Commands the client may send it in
}

func cmds(cs ...Command) uint16 {
	var b uint16
	for _, c := range cs {
		b |= 1 << uint(c)
	}
	return b
}

// allCmds is every command: User Property may appear in any packet
// (MQTT 5.0 section 2.2.2.2).
const allCmds = 1<<uint(numCommands) - 1

// propNames lists mosquitto's property names (those of
// mosquitto_string_to_property_info, matched case-insensitively) with the
// commands a client may send each one in, per the table of MQTT 5.0
// section 2.2.2.2. Properties only a server sends (CONNACK-only ones,
// reason-string on CONNACK/SUBACK/UNSUBACK) are known names but allowed
// nowhere, which yields mosquitto's "not allowed for" error.
var propNames = map[string]propInfo{
	"payload-format-indicator":          {mqtt.PropPayloadFormat, ptByte, cmds(CmdPublish, CmdWill)},
	"message-expiry-interval":           {mqtt.PropMessageExpiry, ptUint32, cmds(CmdPublish, CmdWill)},
	"content-type":                      {mqtt.PropContentType, ptString, cmds(CmdPublish, CmdWill)},
	"response-topic":                    {mqtt.PropResponseTopic, ptString, cmds(CmdPublish, CmdWill)},
	"correlation-data":                  {mqtt.PropCorrelationData, ptBinary, cmds(CmdPublish, CmdWill)},
	"subscription-identifier":           {mqtt.PropSubscriptionID, ptVarint, cmds(CmdPublish, CmdSubscribe)},
	"session-expiry-interval":           {mqtt.PropSessionExpiry, ptUint32, cmds(CmdConnect, CmdDisconnect)},
	"assigned-client-identifier":        {mqtt.PropAssignedClientID, ptString, 0},
	"server-keep-alive":                 {mqtt.PropServerKeepAlive, ptUint16, 0},
	"authentication-method":             {mqtt.PropAuthMethod, ptString, cmds(CmdConnect, CmdAuth)},
	"authentication-data":               {mqtt.PropAuthData, ptBinary, cmds(CmdConnect, CmdAuth)},
	"request-problem-information":       {mqtt.PropRequestProblemInfo, ptByte, cmds(CmdConnect)},
	"will-delay-interval":               {mqtt.PropWillDelay, ptUint32, cmds(CmdWill)},
	"request-response-information":      {mqtt.PropRequestResponseInfo, ptByte, cmds(CmdConnect)},
	"response-information":              {mqtt.PropResponseInfo, ptString, 0},
	"server-reference":                  {mqtt.PropServerReference, ptString, cmds(CmdDisconnect)},
	"reason-string":                     {mqtt.PropReasonString, ptString, cmds(CmdDisconnect, CmdAuth, CmdPuback, CmdPubrec, CmdPubrel, CmdPubcomp)},
	"receive-maximum":                   {mqtt.PropReceiveMaximum, ptUint16, cmds(CmdConnect)},
	"topic-alias-maximum":               {mqtt.PropTopicAliasMaximum, ptUint16, cmds(CmdConnect)},
	"topic-alias":                       {mqtt.PropTopicAlias, ptUint16, cmds(CmdPublish)},
	"maximum-qos":                       {mqtt.PropMaximumQoS, ptByte, 0},
	"retain-available":                  {mqtt.PropRetainAvailable, ptByte, 0},
	"user-property":                     {mqtt.PropUserProperty, ptPair, allCmds},
	"maximum-packet-size":               {mqtt.PropMaximumPacketSize, ptUint32, cmds(CmdConnect)},
	"wildcard-subscription-available":   {mqtt.PropWildcardSubAvailable, ptByte, 0},
	"subscription-identifier-available": {mqtt.PropSubIDAvailable, ptByte, 0},
	"shared-subscription-available":     {mqtt.PropSharedSubAvailable, ptByte, 0},
}

// PropertyNames returns the property names -D accepts for cmd, for help
// texts and shell completion.
func PropertyNames(cmd Command) []string {
	var out []string
	for name, info := range propNames {
		if info.cmds&(1<<uint(cmd)) != 0 && !(cmd == CmdPublish && info.id == mqtt.PropSubscriptionID) {
			out = append(out, name)
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// ApplyProperty adds one mosquitto-style -D property to set:
// "-D CMD NAME VALUE" (values has one element) or
// "-D CMD user-property KEY VALUE" (values has two). Command and property
// names are matched case-insensitively, as in mosquitto. Errors carry
// mosquitto's messages, e.g.
//
//	Error: Invalid command foo given in --property argument.
//	Error: Invalid property name bar given in --property argument.
//	Error: content-type property not allowed for connect in --property argument.
//	Error: Property value (70000) out of range for property topic-alias.
//
// Numbers are read with atol, as mosquitto 2.0.11 does ("12abc" is 12,
// "abc" 0), and must be within the property's range; as mosquitto's
// property check does before connecting, the spec's extra rules are
// applied — Topic Alias, Receive Maximum and Maximum Packet Size are not 0
// [MQTT-3.3.2-8] [MQTT-3.1.2.11.3] [MQTT-3.1.2.11.4], the byte flags are 0
// or 1, Subscription Identifier is 1..268435455 [MQTT-3.8.2.1.2],
// strings are well-formed UTF-8 without U+0000 [MQTT-1.5.4-1/2] and at
// most 65535 bytes, a Response Topic has no wildcards [MQTT-3.3.2-14],
// and a property other than user-property may not be given twice for one
// command (MQTT 5.0 section 3: "It is a Protocol Error to include the ...
// more than once"). A client never sends a Subscription Identifier in
// PUBLISH [MQTT-3.3.4-6].
func ApplyProperty(set *PropertySet, cmd, name string, values []string) error {
	c, ok := ParseCommand(cmd)
	if !ok {
		return fmt.Errorf("Error: Invalid command %s given in --property argument.", cmd)
	}
	info, ok := propNames[strings.ToLower(name)]
	if !ok {
		return fmt.Errorf("Error: Invalid property name %s given in --property argument.", name)
	}
	if info.cmds&(1<<uint(c)) == 0 {
		return fmt.Errorf("Error: %s property not allowed for %s in --property argument.", name, cmd)
	}
	if c == CmdPublish && info.id == mqtt.PropSubscriptionID {
		// [MQTT-3.3.4-6] only the server sends it in PUBLISH.
		return fmt.Errorf("Error: %s property not supported for %s in --property argument.", name, cmd)
	}
	want := 1
	if info.typ == ptPair {
		want = 2
	}
	if len(values) < want {
		return fmt.Errorf("Error: --property argument given but not enough arguments specified.")
	}
	if len(values) > want {
		return fmt.Errorf("Error: --property argument %s %s given too many values.", cmd, name)
	}
	p := set.For(c)
	if info.typ != ptPair && p.Has(info.id) {
		return fmt.Errorf("Error in %s properties: Duplicate property in property list.", strings.ToUpper(c.String()))
	}
	value := values[want-1]
	switch info.typ {
	case ptPair:
		for _, s := range values {
			if err := checkPropString(name, s); err != nil {
				return err
			}
		}
		p.User = append(p.User, mqtt.UserProperty{Key: values[0], Value: values[1]})
		return nil
	case ptString:
		if err := checkPropString(name, value); err != nil {
			return err
		}
		return setStringProp(p, info.id, value)
	case ptBinary:
		if len(value) > 65535 {
			return fmt.Errorf("Error: Property value too long for property %s.", name)
		}
		return setBinaryProp(p, info.id, []byte(value))
	}
	max := map[propType]uint64{ptByte: 255, ptUint16: 65535, ptUint32: 4294967295, ptVarint: 268435455}[info.typ]
	// mosquitto reads the number with atol: "60s" is 60, "abc" is 0.
	n, _ := Atol(value)
	if n < 0 || uint64(n) > max || !valueAllowed(info.id, uint64(n)) {
		return fmt.Errorf("Error: Property value (%d) out of range for property %s.", n, name)
	}
	setIntProp(p, info.id, uint32(n))
	return nil
}

// valueAllowed applies the spec's value rules beyond the type's range.
func valueAllowed(id mqtt.PropID, v uint64) bool {
	switch id {
	case mqtt.PropPayloadFormat, mqtt.PropRequestProblemInfo, mqtt.PropRequestResponseInfo:
		return v <= 1 // [MQTT-3.3.2.3.2] and section 3.1.2.11.6/7: 0 or 1
	case mqtt.PropTopicAlias, mqtt.PropReceiveMaximum, mqtt.PropMaximumPacketSize:
		return v != 0 // [MQTT-3.3.2-8]; section 3.1.2.11.3 and 3.1.2.11.4: 0 is a Protocol Error
	case mqtt.PropSubscriptionID:
		return v >= 1 // section 3.8.2.1.2: 1 to 268,435,455
	}
	return true
}

func checkPropString(name, s string) error {
	if len(s) > 65535 {
		return fmt.Errorf("Error: Property value too long for property %s.", name)
	}
	// [MQTT-1.5.4-1] well-formed UTF-8 (no surrogates); [MQTT-1.5.4-2] no U+0000.
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("Error: Property value for property %s is not valid UTF-8.", name)
	}
	return nil
}

func setStringProp(p *mqtt.Properties, id mqtt.PropID, v string) error {
	switch id {
	case mqtt.PropContentType:
		p.SetContentType(v)
	case mqtt.PropResponseTopic:
		// A Response Topic is a topic name: no wildcards [MQTT-3.3.2-14].
		if v == "" || strings.ContainsAny(v, "+#") {
			return fmt.Errorf("Error: Invalid response topic '%s', does it contain '+' or '#'?", v)
		}
		p.SetResponseTopic(v)
	case mqtt.PropAuthMethod:
		p.SetAuthMethod(v)
	case mqtt.PropServerReference:
		p.SetServerReference(v)
	case mqtt.PropReasonString:
		p.SetReasonString(v)
	}
	return nil
}

func setBinaryProp(p *mqtt.Properties, id mqtt.PropID, v []byte) error {
	switch id {
	case mqtt.PropCorrelationData:
		p.SetCorrelationData(v)
	case mqtt.PropAuthData:
		p.SetAuthData(v)
	}
	return nil
}

func setIntProp(p *mqtt.Properties, id mqtt.PropID, v uint32) {
	switch id {
	case mqtt.PropPayloadFormat:
		p.SetPayloadFormat(byte(v))
	case mqtt.PropMessageExpiry:
		p.SetMessageExpiry(v)
	case mqtt.PropSubscriptionID:
		p.SubscriptionIDs = append(p.SubscriptionIDs[:0], v)
	case mqtt.PropSessionExpiry:
		p.SetSessionExpiry(v)
	case mqtt.PropRequestProblemInfo:
		p.SetRequestProblemInfo(byte(v))
	case mqtt.PropWillDelay:
		p.SetWillDelay(v)
	case mqtt.PropRequestResponseInfo:
		p.SetRequestResponseInfo(byte(v))
	case mqtt.PropReceiveMaximum:
		p.SetReceiveMaximum(uint16(v))
	case mqtt.PropTopicAliasMaximum:
		p.SetTopicAliasMaximum(uint16(v))
	case mqtt.PropTopicAlias:
		p.SetTopicAlias(uint16(v))
	case mqtt.PropMaximumPacketSize:
		p.SetMaximumPacketSize(v)
	}
}

// SplitPropertyArgs pulls every "-D CMD NAME VALUE" / "--property ..." (and
// the four-word user-property form) out of argv, because urfave/cli flags
// take a single value. takesValue reports whether another flag consumes
// the next argument (so "-m -D" is left alone); "--" ends option parsing.
// The returned specs are each [CMD, NAME, VALUE...] ready for ApplyProperty.
// args must not include the program name.
func SplitPropertyArgs(args []string, takesValue func(flag string) bool) (rest []string, specs [][]string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		if a != "-D" && a != "--property" {
			rest = append(rest, a)
			if strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && takesValue != nil && takesValue(a) && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
			continue
		}
		if i+3 >= len(args) {
			return nil, nil, fmt.Errorf("Error: --property argument given but not enough arguments specified.")
		}
		n := 3
		if strings.EqualFold(args[i+2], "user-property") {
			if i+4 >= len(args) {
				return nil, nil, fmt.Errorf("Error: --property argument given but not enough arguments specified.")
			}
			n = 4
		}
		specs = append(specs, append([]string(nil), args[i+1:i+1+n]...))
		i += n
	}
	return rest, specs, nil
}
