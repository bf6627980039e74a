//! UDH parse/build and concatenation info.

use optgate::text::udh::{parse, Concat, Ie, Udh, UdhError};
use proptest::prelude::*;

#[test]
fn parses_8bit_concat() {
    let sm = [0x05, 0x00, 0x03, 0xA7, 0x03, 0x02, b'h', b'i'];
    let (udh, len) = parse(&sm).unwrap();
    assert_eq!(len, 6);
    assert_eq!(&sm[len..], b"hi");
    assert_eq!(
        udh.concat(),
        Some(Concat {
            reference: 0xA7,
            total: 3,
            seq: 2,
            ref16: false
        })
    );
    assert_eq!(udh.encode().unwrap(), sm[..6]);
}

#[test]
fn parses_16bit_concat() {
    let sm = [0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01, 0x00];
    let (udh, len) = parse(&sm).unwrap();
    assert_eq!(len, 7);
    assert_eq!(
        udh.concat(),
        Some(Concat {
            reference: 0x1234,
            total: 2,
            seq: 1,
            ref16: true
        })
    );
    assert_eq!(udh.encode().unwrap(), sm[..7]);
}

#[test]
fn builds_from_concat() {
    let c8 = Concat {
        reference: 0x01FF,
        total: 2,
        seq: 1,
        ref16: false,
    };
    assert_eq!(
        Udh::with_concat(c8).encode().unwrap(),
        [5, 0, 3, 0xFF, 2, 1]
    );
    let c16 = Concat::from_sar(0xBEEF, 4, 3);
    assert!(c16.ref16);
    assert_eq!(
        Udh::with_concat(c16).encode().unwrap(),
        [6, 8, 4, 0xBE, 0xEF, 4, 3]
    );
    assert_eq!(Udh::with_concat(c16).encoded_len(), 7);
}

#[test]
fn other_ies_survive_reencode() {
    // Port addressing (IE 0x05) before the concat IE, plus an unknown IE.
    let sm = [
        0x0E, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x09, 0x02, 0x01, 0x70, 0x01, 0xAA,
    ];
    let (mut udh, len) = parse(&sm).unwrap();
    assert_eq!(len, sm.len());
    assert_eq!(udh.ies.len(), 3);
    assert_eq!(
        udh.ies[0],
        Ie {
            id: 0x05,
            data: vec![0x0B, 0x84, 0x23, 0xF0]
        }
    );
    assert_eq!(
        udh.concat().map(|c| (c.reference, c.total, c.seq)),
        Some((9, 2, 1))
    );
    assert_eq!(udh.encode().unwrap(), sm);

    udh.set_concat(Concat::from_sar(0x0102, 2, 1));
    assert_eq!(udh.ies.len(), 3);
    assert_eq!(udh.ies[0].id, 0x08);
    assert_eq!(udh.ies[1].id, 0x05);
    assert_eq!(udh.ies[2].id, 0x70);
}

#[test]
fn malformed_concat_ie_is_ignored() {
    // IE 0x00 with IEDL 2 is not a concat IE; the 0x08 after it is used.
    let sm = [
        0x0A, 0x00, 0x02, 0x01, 0x02, 0x08, 0x04, 0x00, 0x07, 0x02, 0x02,
    ];
    let (udh, _) = parse(&sm).unwrap();
    assert_eq!(udh.concat(), Some(Concat::from_sar(7, 2, 2)));
    let (none, _) = parse(&[0x04, 0x05, 0x02, 0x00, 0x00]).unwrap();
    assert_eq!(none.concat(), None);
}

#[test]
fn overruns() {
    assert_eq!(
        parse(&[0x06, 0x00, 0x03, 0x01]),
        Err(UdhError::LengthOverrun {
            udhl: 6,
            available: 3
        })
    );
    assert_eq!(
        parse(&[0x03, 0x00, 0x05, 0x01]),
        Err(UdhError::IeOverrun { id: 0, len: 5 })
    );
    let big = Udh {
        ies: vec![Ie {
            id: 1,
            data: vec![0; 256],
        }],
    };
    assert_eq!(big.encode(), Err(UdhError::TooLong));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_is_total_and_reencodes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok((udh, len)) = parse(&bytes) {
            prop_assert!(len <= bytes.len());
            prop_assert_eq!(udh.encode().unwrap(), bytes[..len].to_vec());
        }
    }
}
