package mqtt

import (
	"fmt"
	"strconv"
	"strings"
)

// Describe renders p on one line the way mosquitto's -d / -v logs do,
// e.g. "PUBLISH (d0, q1, r0, m7, 'a/b', ... (5 bytes))" or "CONNACK (0)".
func Describe(p Packet) string {
	var b strings.Builder
	b.WriteString(p.Type().String())
	switch p := p.(type) {
	case *Connect:
		fmt.Fprintf(&b, " (p%d, c%d, k%d, id '%s'", p.Version, boolInt(p.CleanStart), p.KeepAlive, p.ClientID)
		if p.HasUsername {
			fmt.Fprintf(&b, ", u'%s'", p.Username)
		}
		if p.Will != nil {
			fmt.Fprintf(&b, ", will '%s' q%d r%d", p.Will.Topic, p.Will.QoS, boolInt(p.Will.Retain))
		}
		describeProps(&b, &p.Props)
		b.WriteString(")")
	case *Connack:
		if p.Props.IsEmpty() && p.Code == ConnackCodeFromV3(p.ReturnCodeV3) && p.Code.IsError() == (p.ReturnCodeV3 != 0) && p.ReturnCodeV3 == ConnackCodeV3(p.Code) && !isV5Only(p.Code) {
			fmt.Fprintf(&b, " (%d)", p.ReturnCodeV3)
		} else {
			fmt.Fprintf(&b, " (%d", byte(p.Code))
			if p.SessionPresent {
				b.WriteString(", session present")
			}
			describeProps(&b, &p.Props)
			b.WriteString(")")
		}
		if p.Code != Success {
			fmt.Fprintf(&b, " %s", p.Code)
		}
	case *Publish:
		fmt.Fprintf(&b, " (d%d, q%d, r%d, m%d, '%s'", boolInt(p.Dup), p.QoS, boolInt(p.Retain), p.PacketID, p.Topic)
		describeProps(&b, &p.Props)
		fmt.Fprintf(&b, ", ... (%d bytes))", len(p.Payload))
	case *Ack:
		fmt.Fprintf(&b, " (m%d, rc%d", p.PacketID, byte(p.Code))
		describeProps(&b, &p.Props)
		b.WriteString(")")
	case *Subscribe:
		fmt.Fprintf(&b, " (m%d", p.PacketID)
		for _, s := range p.Subscriptions {
			fmt.Fprintf(&b, ", '%s' q%d", s.Filter, s.QoS)
			if s.NoLocal {
				b.WriteString(" nl")
			}
			if s.RetainAsPublished {
				b.WriteString(" rap")
			}
			if s.RetainHandling != 0 {
				fmt.Fprintf(&b, " rh%d", s.RetainHandling)
			}
		}
		describeProps(&b, &p.Props)
		b.WriteString(")")
	case *Suback:
		fmt.Fprintf(&b, " (m%d", p.PacketID)
		for _, c := range p.Codes {
			fmt.Fprintf(&b, ", %d", byte(c))
		}
		describeProps(&b, &p.Props)
		b.WriteString(")")
	case *Unsubscribe:
		fmt.Fprintf(&b, " (m%d", p.PacketID)
		for _, f := range p.Filters {
			fmt.Fprintf(&b, ", '%s'", f)
		}
		b.WriteString(")")
	case *Unsuback:
		fmt.Fprintf(&b, " (m%d", p.PacketID)
		for _, c := range p.Codes {
			fmt.Fprintf(&b, ", %d", byte(c))
		}
		b.WriteString(")")
	case *Disconnect:
		if p.Code != Success || !p.Props.IsEmpty() {
			fmt.Fprintf(&b, " (rc%d %s", byte(p.Code), p.Code)
			describeProps(&b, &p.Props)
			b.WriteString(")")
		}
	case *Auth:
		fmt.Fprintf(&b, " (rc%d", byte(p.Code))
		describeProps(&b, &p.Props)
		b.WriteString(")")
	}
	return b.String()
}

func isV5Only(c ReasonCode) bool {
	return c.IsError() && ConnackCodeFromV3(ConnackCodeV3(c)) != c
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// describeProps appends the present properties briefly: ", props{name=value ...}".
func describeProps(b *strings.Builder, p *Properties) {
	if p.IsEmpty() {
		return
	}
	b.WriteString(", props{")
	first := true
	sep := func() {
		if !first {
			b.WriteByte(' ')
		}
		first = false
	}
	for id := PropID(1); int(id) < len(propTable); id++ {
		spec := &propTable[id]
		if spec.kind == 0 || !p.Has(id) {
			continue
		}
		switch id {
		case PropUserProperty:
			for _, u := range p.User {
				sep()
				fmt.Fprintf(b, "user-property=%s:%s", u.Key, u.Value)
			}
			continue
		case PropSubscriptionID:
			for _, v := range p.SubscriptionIDs {
				sep()
				fmt.Fprintf(b, "subscription-identifier=%d", v)
			}
			continue
		}
		sep()
		b.WriteString(strings.ReplaceAll(spec.name, " ", "-"))
		b.WriteByte('=')
		switch spec.kind {
		case kByte:
			b.WriteString(strconv.Itoa(int(propByte(p, id))))
		case kU16:
			b.WriteString(strconv.Itoa(int(propU16(p, id))))
		case kU32:
			b.WriteString(strconv.FormatUint(uint64(propU32(p, id)), 10))
		case kStr:
			b.WriteString(strconv.Quote(propBytes(p, id)))
		case kBin:
			if id == PropAuthData {
				fmt.Fprintf(b, "(%d bytes)", len(p.AuthData))
			} else {
				fmt.Fprintf(b, "%q", p.CorrelationData)
			}
		}
	}
	b.WriteString("}")
}
