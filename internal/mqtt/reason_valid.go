package mqtt

// Which reason codes each MQTT 5 packet may carry (sections 3.2.2.2,
// 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1).
// A sender MUST use one of them, e.g. [MQTT-3.14.2-1] for DISCONNECT; a
// code outside the list is a Protocol Error.

func codeSet(codes ...ReasonCode) (s [4]uint64) {
	for _, c := range codes {
		s[c/64] |= 1 << (c % 64)
	}
	return s
}

var validCodes = map[PacketType][4]uint64{
	CONNACK: codeSet(Success, UnspecifiedError, MalformedPacket, ProtocolError, ImplementationSpecificError,
		UnsupportedProtocolVersion, ClientIdentifierNotValid, BadUserNameOrPassword, NotAuthorized,
		ServerUnavailable, ServerBusy, Banned, BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge,
		QuotaExceeded, PayloadFormatInvalid, RetainNotSupported, QoSNotSupported, UseAnotherServer,
		ServerMoved, ConnectionRateExceeded),
	PUBACK: codeSet(Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError,
		NotAuthorized, TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded, PayloadFormatInvalid),
	PUBREL:  codeSet(Success, PacketIdentifierNotFound),
	PUBCOMP: codeSet(Success, PacketIdentifierNotFound),
	SUBACK: codeSet(Success, GrantedQoS1, GrantedQoS2, UnspecifiedError, ImplementationSpecificError,
		NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse, QuotaExceeded,
		SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported, WildcardSubscriptionsNotSupported),
	UNSUBACK: codeSet(Success, NoSubscriptionExisted, UnspecifiedError, ImplementationSpecificError,
		NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse),
	DISCONNECT: codeSet(Success, DisconnectWithWill, UnspecifiedError, MalformedPacket, ProtocolError,
		ImplementationSpecificError, NotAuthorized, ServerBusy, ServerShuttingDown, KeepAliveTimeout,
		SessionTakenOver, TopicFilterInvalid, TopicNameInvalid, ReceiveMaximumExceeded, TopicAliasInvalid,
		PacketTooLarge, MessageRateTooHigh, QuotaExceeded, AdministrativeAction, PayloadFormatInvalid,
		RetainNotSupported, QoSNotSupported, UseAnotherServer, ServerMoved, SharedSubscriptionsNotSupported,
		ConnectionRateExceeded, MaximumConnectTime, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported),
}

func init() { validCodes[PUBREC] = validCodes[PUBACK] }

// ValidReason reports whether c is a reason code packet type t may carry
// in MQTT 5.
func ValidReason(t PacketType, c ReasonCode) bool {
	s, ok := validCodes[t]
	return !ok || s[c/64]&(1<<(c%64)) != 0
}

func checkReason(t PacketType, c ReasonCode) error {
	if !ValidReason(t, c) {
		return Errorf(ErrProtocolError, "%s reason code 0x%02X", t, byte(c))
	}
	return nil
}
