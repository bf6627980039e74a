#!/usr/bin/env python3
"""A platform written with python smpplib (PyPI), driven by tests/peers_smpplib.rs.

Usage: smpplib_client.py HOST PORT SYSTEM_ID PASSWORD SOURCE DESTINATION [CA_FILE]

With CA_FILE it connects over TLS (smpplib's ssl_context), trusting that CA.
smpplib 2.2.4 wraps the socket without a server_hostname, so the context
verifies the certificate chain but cannot check the name.

Binds as a transceiver, submits three messages (GSM 03.38 with extension
characters, UCS-2, and a two-part concatenated GSM message built by
smpplib.gsm.make_parts), then waits for two deliver_sm (an MO and a receipt
the Rust test injects at its fake carrier). It stays bound afterwards, so the
test can shut optgate down under it; smpplib never answers an unbind sent to
it, which is the point of that check.

Everything it sees is printed to stdout as one JSON object per line. It exits
0 when optgate closes the connection, 2 on any unexpected error, and kills
itself after 60 s so a broken test can never hang.
"""

import json
import signal
import ssl
import sys
import warnings

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

GSM_TEXT = "@ £ $ { } GSM"
UCS2_TEXT = "Привет 你好"
# 200 GSM characters: two parts of 153 septets.
LONG_TEXT = ("The quick brown fox jumps over the lazy dog 0123456789. " * 4)[:200]


def emit(**event):
    print(json.dumps(event, ensure_ascii=False), flush=True)


def text(value):
    """smpplib hands back str fields as bytes; JSON wants str."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def decode_short_message(pdu):
    raw = pdu.short_message or b""
    if pdu.data_coding == smpplib.consts.SMPP_ENCODING_ISO10646:
        return raw.decode("utf-16-be")
    if pdu.data_coding == smpplib.consts.SMPP_ENCODING_DEFAULT:
        # GSM 03.38 unpacked, the inverse of smpplib.gsm.gsm_encode.
        table = smpplib.gsm.GSM_CHARACTER_TABLE
        out, escape = [], False
        for b in raw:
            if b == 0x1B:
                escape = True
                continue
            out.append(table[b + 0x80] if escape else table[b])
            escape = False
        return "".join(out)
    return raw.decode("latin-1")


class Client(smpplib.client.Client):
    """smpplib's client, reporting every PDU it reads and nothing more.

    Behaviour is smpplib's own: on an unbind read_once() logs and returns,
    without an unbind_resp.
    """

    def read_pdu(self):
        pdu = super().read_pdu()
        if pdu.command in ("unbind", "enquire_link"):
            emit(event=pdu.command, sequence=pdu.sequence)
        return pdu


def submit(client, source, destination, message):
    parts, coding, esm_class = smpplib.gsm.make_parts(message)
    sequences = []
    for part in parts:
        pdu = client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_INTL,
            source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            source_addr=source,
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr=destination,
            short_message=part,
            data_coding=coding,
            esm_class=esm_class,
            registered_delivery=True,
        )
        sequences.append(pdu.sequence)
    emit(event="sent", text=message, data_coding=coding, esm_class=esm_class,
         parts=len(parts), sequences=sequences)
    return len(parts)


def main():
    host, port, system_id, password, source, destination = sys.argv[1:7]
    signal.alarm(60)
    warnings.simplefilter("ignore", DeprecationWarning)
    ssl_context = None
    if len(sys.argv) > 7:
        ssl_context = ssl.create_default_context(cafile=sys.argv[7])
        ssl_context.check_hostname = False  # see the module docstring
        ssl_context.verify_mode = ssl.CERT_REQUIRED
    client = Client(host, int(port), timeout=2, allow_unknown_opt_params=True,
                    ssl_context=ssl_context)
    answered = []
    delivered = []

    def on_sent(pdu, **_):
        answered.append(pdu)
        emit(event="submit_sm_resp", sequence=pdu.sequence, status=pdu.status,
             message_id=text(pdu.message_id))

    def on_received(pdu, **_):
        delivered.append(pdu)
        emit(event="deliver_sm", sequence=pdu.sequence, esm_class=pdu.esm_class,
             data_coding=pdu.data_coding, source=text(pdu.source_addr),
             destination=text(pdu.destination_addr), text=decode_short_message(pdu),
             receipted_message_id=text(getattr(pdu, "receipted_message_id", None)),
             message_state=getattr(pdu, "message_state", None))

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.connect()
    resp = client.bind_transceiver(system_id=system_id, password=password)
    emit(event="bound", sequence=resp.sequence, status=resp.status,
         system_id=text(resp.system_id))

    expected = 0
    for message in (GSM_TEXT, UCS2_TEXT, LONG_TEXT):
        expected += submit(client, source, destination, message)
    while len(answered) < expected:
        client.read_once()
    emit(event="ready")
    while len(delivered) < 2:
        client.read_once()
    emit(event="done")
    try:
        client.listen()
    except smpplib.exceptions.ConnectionError:
        # optgate closed the connection (after the unbind we never answered).
        emit(event="closed")
        client._socket = None  # already gone; keep smpplib's __del__ quiet
        return 0
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # report, do not hide: the test prints stderr too
        emit(event="error", error=repr(e))
        sys.exit(2)
