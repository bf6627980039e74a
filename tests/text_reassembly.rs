//! Multipart reassembly: order, duplicates, bounds, expiry.

use std::time::{Duration, Instant};

use optgate::text::reassembly::{Push, Reassembler, RejectReason};
use optgate::text::udh::Concat;

fn c8(reference: u16, total: u8, seq: u8) -> Concat {
    Concat {
        reference,
        total,
        seq,
        ref16: false,
    }
}

const T: Duration = Duration::from_secs(60);

#[test]
fn out_of_order_parts_come_back_in_seq_order() {
    let mut r: Reassembler<&str> = Reassembler::new(10, 100, T);
    let now = Instant::now();
    assert_eq!(
        r.push("a", c8(1, 3, 3), b"c".to_vec(), now),
        Push::Incomplete
    );
    assert_eq!(
        r.push("a", c8(1, 3, 1), b"a".to_vec(), now),
        Push::Incomplete
    );
    assert_eq!((r.sets(), r.parts()), (1, 2));
    assert_eq!(
        r.push("a", c8(1, 3, 2), b"b".to_vec(), now),
        Push::Complete(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
    );
    assert_eq!((r.sets(), r.parts()), (0, 0));
}

#[test]
fn single_part_completes_at_once() {
    let mut r: Reassembler<u8> = Reassembler::new(0, 0, T);
    assert_eq!(
        r.push(1, c8(5, 1, 1), vec![1], Instant::now()),
        Push::Complete(vec![vec![1]])
    );
}

#[test]
fn duplicates_are_dropped() {
    let mut r: Reassembler<u8> = Reassembler::new(10, 100, T);
    let now = Instant::now();
    assert_eq!(r.push(1, c8(1, 2, 1), vec![1], now), Push::Incomplete);
    assert_eq!(r.push(1, c8(1, 2, 1), vec![9], now), Push::Duplicate);
    assert_eq!(
        r.push(1, c8(1, 2, 2), vec![2], now),
        Push::Complete(vec![vec![1], vec![2]])
    );
}

#[test]
fn keys_references_and_forms_keep_sets_apart() {
    let mut r: Reassembler<&str> = Reassembler::new(10, 100, T);
    let now = Instant::now();
    assert_eq!(r.push("a", c8(1, 2, 1), vec![1], now), Push::Incomplete);
    assert_eq!(r.push("b", c8(1, 2, 2), vec![2], now), Push::Incomplete);
    assert_eq!(r.push("a", c8(2, 2, 2), vec![3], now), Push::Incomplete);
    assert_eq!(r.push("a", c8(1, 3, 2), vec![4], now), Push::Incomplete);
    assert_eq!(
        r.push("a", Concat::from_sar(1, 2, 2), vec![5], now),
        Push::Incomplete
    );
    assert_eq!(r.sets(), 5);
    // SAR parts reassemble like UDH ones.
    assert_eq!(
        r.push("a", Concat::from_sar(1, 2, 1), vec![6], now),
        Push::Complete(vec![vec![6], vec![5]])
    );
}

#[test]
fn invalid_seq_and_total_rejected() {
    let mut r: Reassembler<u8> = Reassembler::new(10, 100, T);
    let now = Instant::now();
    assert_eq!(
        r.push(1, c8(1, 3, 0), vec![], now),
        Push::Rejected(RejectReason::InvalidSeq)
    );
    assert_eq!(
        r.push(1, c8(1, 3, 4), vec![], now),
        Push::Rejected(RejectReason::InvalidSeq)
    );
    assert_eq!(
        r.push(1, c8(1, 0, 0), vec![], now),
        Push::Rejected(RejectReason::InvalidTotal)
    );
    assert_eq!(r.sets(), 0);
}

#[test]
fn bounds_refuse_when_full() {
    let now = Instant::now();
    let mut r: Reassembler<u8> = Reassembler::new(2, 100, T);
    assert_eq!(r.push(1, c8(1, 2, 1), vec![], now), Push::Incomplete);
    assert_eq!(r.push(2, c8(1, 2, 1), vec![], now), Push::Incomplete);
    assert_eq!(
        r.push(3, c8(1, 2, 1), vec![], now),
        Push::Rejected(RejectReason::TooManySets)
    );
    // An existing set may still complete.
    assert_eq!(
        r.push(1, c8(1, 2, 2), vec![], now),
        Push::Complete(vec![vec![], vec![]])
    );

    let mut r: Reassembler<u8> = Reassembler::new(10, 3, T);
    assert_eq!(r.push(1, c8(1, 4, 1), vec![], now), Push::Incomplete);
    assert_eq!(r.push(1, c8(1, 4, 2), vec![], now), Push::Incomplete);
    assert_eq!(r.push(1, c8(1, 4, 3), vec![], now), Push::Incomplete);
    assert_eq!(
        r.push(1, c8(1, 4, 4), vec![], now),
        Push::Rejected(RejectReason::TooManyParts)
    );
    assert_eq!(r.parts(), 3);
}

#[test]
fn full_push_evicts_expired_sets_for_expire_to_return() {
    let t0 = Instant::now();
    let mut r: Reassembler<u8> = Reassembler::new(1, 100, T);
    assert_eq!(r.push(1, c8(1, 2, 1), vec![1], t0), Push::Incomplete);
    let later = t0 + T;
    assert_eq!(r.push(2, c8(1, 2, 1), vec![2], later), Push::Incomplete);
    assert_eq!(r.sets(), 1);
    assert_eq!(r.expire(later), vec![(1, vec![vec![1]])]);
    assert_eq!(r.expire(later), vec![]);
    assert_eq!(r.dropped(), 0);
}

#[test]
fn expire_returns_only_timed_out_sets_with_parts_in_order() {
    let t0 = Instant::now();
    let mut r: Reassembler<&str> = Reassembler::new(10, 100, T);
    r.push("old", c8(1, 4, 3), vec![3], t0);
    r.push("old", c8(1, 4, 1), vec![1], t0);
    r.push("new", c8(1, 2, 1), vec![9], t0 + Duration::from_secs(30));
    assert_eq!(r.expire(t0 + Duration::from_secs(59)), vec![]);
    assert_eq!(r.expire(t0 + T), vec![("old", vec![vec![1], vec![3]])]);
    assert_eq!((r.sets(), r.parts()), (1, 1));
    // The remaining set can still complete.
    assert_eq!(
        r.push("new", c8(1, 2, 2), vec![8], t0 + T),
        Push::Complete(vec![vec![9], vec![8]])
    );
}

#[test]
fn evicted_backlog_is_bounded() {
    let t0 = Instant::now();
    let mut r: Reassembler<u32> = Reassembler::new(1, 2, T);
    // Each new set evicts the previous (expired) one; with no expire() call,
    // the backlog keeps at most max_parts_total parts.
    for i in 0..5u32 {
        let now = t0 + T * i;
        assert_eq!(
            r.push(i, c8(1, 2, 1), vec![], now),
            Push::Incomplete,
            "set {i}"
        );
    }
    let out = r.expire(t0);
    assert_eq!(out.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(r.dropped(), 2);
}
