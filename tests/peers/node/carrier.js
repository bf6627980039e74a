#!/usr/bin/env node
// A carrier SMSC written with node-smpp's server (npm package smpp), driven by
// tests/peers_nodesmpp.rs with optgate bound to it as an ESME.
//
// Usage: node carrier.js
//
// Listens on 127.0.0.1 (a free port, printed first as {"event":"listening"}),
// accepts any bind, answers each submit_sm with message id "N<n>" and then
// sends back over the same session an MO from the message's destination
// ("Reply from node") and, when the submit asked for one, a delivery receipt
// (text form plus receipted_message_id and message_state TLVs). Every PDU
// it handles is printed as one JSON line. It answers unbind and exits 0 when
// stdin closes; after 60 s it gives up (exit 3).
//
// With SMPP_TLS_CERT and SMPP_TLS_KEY set (PEM files) it listens over TLS
// only (node-smpp's secure server).
'use strict';

const smpp = require('smpp');

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

setTimeout(() => {
  emit({ event: 'error', what: 'timeout' });
  process.exit(3);
}, 60000).unref();

let nextId = 1;

function text(sm) {
  const m = sm.short_message;
  if (m && typeof m === 'object' && 'message' in m) {
    return Buffer.isBuffer(m.message) ? m.message.toString('latin1') : m.message;
  }
  return Buffer.isBuffer(m) ? m.toString('latin1') : String(m);
}

function deliver(session, fields, what) {
  const pdu = new smpp.PDU('deliver_sm', fields);
  session.send(pdu, (resp) => {
    emit({ event: 'deliver_sm_resp', what, status: resp.command_status, sequence: resp.sequence_number });
  });
  emit({ event: 'deliver_sm', what, sequence: pdu.sequence_number });
}

function onSubmit(session, pdu) {
  const id = `N${nextId++}`;
  emit({
    event: 'submit_sm',
    sequence: pdu.sequence_number,
    message_id: id,
    source: pdu.source_addr,
    destination: pdu.destination_addr,
    data_coding: pdu.data_coding,
    registered_delivery: pdu.registered_delivery,
    text: text(pdu),
  });
  session.send(pdu.response({ message_id: id }));
  deliver(session, {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: pdu.destination_addr,
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: pdu.source_addr,
    short_message: 'Reply from node',
  }, 'mo');
  if (pdu.registered_delivery & 1) {
    deliver(session, {
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: pdu.destination_addr,
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: pdu.source_addr,
      esm_class: 0x04,
      short_message: `id:${id} sub:001 dlvrd:001 submit date:2611270000 done date:2611270001 stat:DELIVRD err:000 text:x`,
      receipted_message_id: id,
      message_state: 2,
    }, 'receipt');
  }
}

const tlsFiles = process.env.SMPP_TLS_CERT
  ? {
      cert: require('fs').readFileSync(process.env.SMPP_TLS_CERT),
      key: require('fs').readFileSync(process.env.SMPP_TLS_KEY),
    }
  : {};
const server = smpp.createServer(tlsFiles, (session) => {
  session.on('error', (e) => emit({ event: 'session_error', detail: String(e) }));
  for (const kind of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    session.on(kind, (pdu) => {
      emit({ event: 'bind', command: kind, system_id: pdu.system_id, interface_version: pdu.interface_version });
      session.send(pdu.response({ system_id: 'NODESMSC' }));
    });
  }
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    emit({ event: 'unbind', sequence: pdu.sequence_number });
    session.send(pdu.response());
  });
  session.on('close', () => emit({ event: 'session_closed' }));
});

server.listen(0, '127.0.0.1', () => {
  emit({ event: 'listening', port: server.address().port });
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
