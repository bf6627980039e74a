//! Codec throughput: decode/encode of a 160-character submit_sm and of a
//! delivery receipt, and 1,000 mixed PDUs through the tokio-util Decoder.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use optgate::codec::{encode_into, SmppCodec};
use optgate::pdu::{tags, Body, MessageIdResp, Pdu, Sm, Text, Tlvs};
use tokio_util::codec::Decoder;

fn submit_160() -> Pdu {
    Pdu::new(
        42,
        Body::SubmitSm(Box::new(Sm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: Text::from_static(b"447700900999"),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: Text::from_static(b"447700900123"),
            registered_delivery: 1,
            short_message: Bytes::from(vec![b'a'; 160]),
            ..Sm::default()
        })),
    )
}

fn receipt() -> Pdu {
    let mut tlvs = Tlvs::new();
    tlvs.set_cstring(tags::RECEIPTED_MESSAGE_ID, b"0000000000000042");
    tlvs.set_u8(tags::MESSAGE_STATE, 2);
    Pdu::new(
        7,
        Body::DeliverSm(Box::new(Sm {
            source_addr: Text::from_static(b"447700900123"),
            destination_addr: Text::from_static(b"447700900999"),
            esm_class: 0x04,
            short_message: Bytes::from_static(
                b"id:0000000000000042 sub:001 dlvrd:001 submit date:2611270430 done date:2611270431 stat:DELIVRD err:000 text:Hello",
            ),
            tlvs,
            ..Sm::default()
        })),
    )
}

fn bench_pdu(c: &mut Criterion, name: &str, pdu: &Pdu) {
    let bytes = pdu.to_bytes();
    c.bench_function(&format!("decode/{name}"), |b| {
        b.iter(|| Pdu::decode(black_box(bytes.clone())))
    });
    let mut buf = BytesMut::with_capacity(4096);
    c.bench_function(&format!("encode/{name}"), |b| {
        b.iter(|| {
            buf.clear();
            black_box(pdu).encode(&mut buf);
            black_box(buf.len())
        })
    });
}

fn bench_stream(c: &mut Criterion) {
    let kinds = [
        submit_160(),
        receipt(),
        Pdu::new(1, Body::EnquireLink),
        Pdu::new(
            2,
            Body::SubmitSmResp(MessageIdResp::new("0000000000000042")),
        ),
        Pdu::new(3, Body::DeliverSmResp(MessageIdResp::new(""))),
    ];
    let mut stream = BytesMut::new();
    for i in 0..1000 {
        encode_into(&kinds[i % kinds.len()], &mut stream);
    }
    let stream = stream.freeze();
    let mut group = c.benchmark_group("decoder");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("stream_1000_mixed", |b| {
        b.iter(|| {
            let mut codec = SmppCodec::default();
            let mut buf = BytesMut::from(&stream[..]);
            let mut n = 0;
            while let Ok(Some(item)) = codec.decode(&mut buf) {
                n += usize::from(item.is_ok());
            }
            assert_eq!(n, 1000);
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_pdu(c, "submit_sm_160", &submit_160());
    bench_pdu(c, "deliver_sm_receipt", &receipt());
    bench_stream(c);
}

criterion_group!(codec, benches);
criterion_main!(codec);
