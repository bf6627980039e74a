#!/usr/bin/env node
// A platform written with node-smpp (npm package smpp), driven by
// tests/peers_nodesmpp.rs.
//
// Usage: node platform.js HOST PORT SYSTEM_ID PASSWORD SOURCE DESTINATION
//
// With SMPP_TLS_CA set (a PEM CA file) it connects over TLS (node-smpp's
// ssmpp:// URL), verifying the server certificate against that CA and the
// name "localhost".
//
// Binds as a transceiver with node-smpp's defaults (interface_version 0x50),
// submits an ASCII text (node-smpp picks data_coding 1 for it by itself) and
// a UCS-2 text, then waits for two deliver_sm (an MO and a receipt the Rust
// test injects at its fake carrier), acknowledges them, unbinds and exits 0.
// Every step is printed to stdout as one JSON object per line; any error
// prints {"event":"error"} and exits 2; after 60 s it gives up (exit 3).
'use strict';

const smpp = require('smpp');

const ASCII_TEXT = 'Hello from node-smpp';
const UCS2_TEXT = 'Привет 你好';

const [host, port, systemId, password, source, destination] = process.argv.slice(2);

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function fail(what, detail) {
  emit({ event: 'error', what, detail: String(detail) });
  process.exit(2);
}

setTimeout(() => {
  emit({ event: 'error', what: 'timeout' });
  process.exit(3);
}, 60000).unref();

function text(sm) {
  const m = sm.short_message;
  if (m && typeof m === 'object' && 'message' in m) {
    return Buffer.isBuffer(m.message) ? m.message.toString('latin1') : m.message;
  }
  return Buffer.isBuffer(m) ? m.toString('latin1') : String(m);
}

const caFile = process.env.SMPP_TLS_CA;
const session = caFile
  ? smpp.connect({
      url: `ssmpp://${host}:${port}`,
      ca: require('fs').readFileSync(caFile),
      servername: 'localhost',
    })
  : smpp.connect({ url: `smpp://${host}:${port}` });
session.on('error', (e) => fail('socket', e));
session.on('close', () => {
  emit({ event: 'closed' });
  process.exit(0);
});

let delivered = 0;
session.on('deliver_sm', (pdu) => {
  emit({
    event: 'deliver_sm',
    sequence: pdu.sequence_number,
    esm_class: pdu.esm_class,
    data_coding: pdu.data_coding,
    source: pdu.source_addr,
    destination: pdu.destination_addr,
    text: text(pdu),
    receipted_message_id: pdu.receipted_message_id || null,
  });
  session.send(pdu.response());
  delivered += 1;
  if (delivered === 2) {
    emit({ event: 'done' });
    session.unbind({}, (resp) => {
      emit({ event: 'unbind_resp', status: resp.command_status });
      session.close();
    });
  }
});

function submit(shortMessage) {
  return new Promise((resolve) => {
    const pdu = new smpp.PDU('submit_sm', {
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: source,
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: destination,
      registered_delivery: 1,
      short_message: shortMessage,
    });
    session.send(pdu, (resp) => {
      emit({
        event: 'submit_sm_resp',
        sequence: resp.sequence_number,
        status: resp.command_status,
        message_id: resp.message_id,
        data_coding: pdu.data_coding,
      });
      resolve();
    });
    emit({ event: 'sent', sequence: pdu.sequence_number, text: shortMessage });
  });
}

const bind = new smpp.PDU('bind_transceiver', { system_id: systemId, password });
session.send(bind, async (resp) => {
  emit({
    event: 'bound',
    status: resp.command_status,
    sequence: resp.sequence_number,
    interface_version: bind.interface_version,
    system_id: resp.system_id,
    sc_interface_version: resp.sc_interface_version === undefined ? null : resp.sc_interface_version,
  });
  if (resp.command_status !== 0) {
    process.exit(1);
  }
  await submit(ASCII_TEXT);
  await submit(UCS2_TEXT);
  emit({ event: 'ready' });
});
