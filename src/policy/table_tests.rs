//! The decision tables of DESIGN.md §2, cell by cell.

use super::campaign::{Campaign, ConsentStatus, InboundUnknown, OutboundUnknown, StatusCodes};
use super::keywords::Class;
use super::mo::{decide_mo, MoDecision, PhraseMode};
use super::mt::{decide, Decision, EventKind, MtFacts, RejectReason, ESME_RMSGQFUL};
use super::responses::{render, ResponseKind};

use ConsentStatus::{Active, None as NoRow, Pending, Refused};
use OutboundUnknown::{Allow, Prevent, RequireOptIn};

// Not the defaults, so the test sees the configured codes flow through.
const CODES: StatusCodes = StatusCodes {
    opted_out: 0x4F0,
    prevented: 0x4F1,
    unassigned_sender: 0x4F2,
};

fn campaign(outbound: OutboundUnknown) -> Campaign {
    let mut c = Campaign::new("acme-support", "ACME");
    c.outbound_unknown = outbound;
    c
}

fn custom(text: &str) -> MtFacts {
    MtFacts {
        text: Some(text.to_owned()),
        ..MtFacts::default()
    }
}

/// One cell of the MT table, in the words of DESIGN.md.
#[derive(Clone, Copy, Debug)]
enum Cell {
    /// forward; event `unverified_first_contact`
    ForwardUnverified,
    /// send the opt-in request, status → pending, hold the message
    RequestAndHold,
    /// hold
    Hold,
    /// forward
    Forward,
    /// reject `status_codes.prevented`
    RejectPrevented,
    /// reject `status_codes.opted_out`
    RejectOptedOut,
}

fn expected(cell: Cell) -> Decision {
    match cell {
        Cell::ForwardUnverified => Decision::Forward {
            event: Some(EventKind::UnverifiedFirstContact),
            footer: None,
        },
        Cell::RequestAndHold => Decision::Hold {
            send_opt_in_request: true,
            set_status: Some(Pending),
        },
        Cell::Hold => Decision::Hold {
            send_opt_in_request: false,
            set_status: None,
        },
        Cell::Forward => Decision::Forward {
            event: None,
            footer: None,
        },
        Cell::RejectPrevented => Decision::Reject {
            status: CODES.prevented,
            reason: RejectReason::Prevented,
        },
        Cell::RejectOptedOut => Decision::Reject {
            status: CODES.opted_out,
            reason: RejectReason::OptedOut,
        },
    }
}

#[test]
fn mt_table_every_cell() {
    use Cell::*;
    let columns = [Allow, RequireOptIn, Prevent];
    #[rustfmt::skip]
    let table = [
        // status       allow               require_opt_in    prevent
        (NoRow,   [ForwardUnverified, RequestAndHold,   RejectPrevented]),
        (Pending, [Hold,              Hold,             Hold]),
        (Active,  [Forward,           Forward,          Forward]),
        (Refused, [RejectOptedOut,    RejectOptedOut,   RejectOptedOut]),
    ];
    for (status, cells) in table {
        for (outbound, cell) in columns.into_iter().zip(cells) {
            let mut c = campaign(outbound);
            // The footer rule has its own test.
            c.attachment_first_message = false;
            let got = decide(status, &c, &custom("Your table is ready"), &CODES);
            assert_eq!(got, expected(cell), "{status:?} × {outbound:?}");
        }
    }
}

#[test]
fn binary_messages_follow_the_same_table() {
    let facts = MtFacts {
        text: None,
        ..MtFacts::default()
    };
    let mut c = campaign(RequireOptIn);
    c.attachment_first_message = false;
    assert_eq!(
        decide(NoRow, &c, &facts, &CODES),
        expected(Cell::RequestAndHold)
    );
    assert_eq!(
        decide(Refused, &c, &facts, &CODES),
        expected(Cell::RejectOptedOut)
    );
}

#[test]
fn over_max_held_is_queue_full() {
    let full = Decision::Reject {
        status: ESME_RMSGQFUL,
        reason: RejectReason::HoldFull,
    };
    let c = campaign(RequireOptIn);
    let at = |held| MtFacts {
        held_for_recipient: held,
        ..custom("hi")
    };
    assert_eq!(decide(Pending, &c, &at(19), &CODES), expected(Cell::Hold));
    assert_eq!(decide(Pending, &c, &at(20), &CODES), full);
    assert_eq!(decide(NoRow, &c, &at(20), &CODES), full);
    // The cap is about holding; forwarding and blocking ignore it.
    assert!(matches!(
        decide(Active, &c, &at(99), &CODES),
        Decision::Forward { .. }
    ));
    assert_eq!(
        decide(Refused, &c, &at(99), &CODES),
        expected(Cell::RejectOptedOut)
    );
    assert_ne!(ESME_RMSGQFUL, CODES.opted_out);
}

#[test]
fn platform_opt_in_request_is_forwarded_and_sets_pending() {
    for outbound in [Allow, RequireOptIn, Prevent] {
        let c = campaign(outbound);
        let request = render(ResponseKind::OptInRequest, &c);
        let facts = custom(&request);
        assert_eq!(
            decide(NoRow, &c, &facts, &CODES),
            Decision::ForwardAsOptInRequest
        );
        assert_eq!(
            decide(Pending, &c, &facts, &CODES),
            Decision::ForwardAsOptInRequest
        );
        // Active: an ordinary message, the status must not drop to pending.
        assert!(matches!(
            decide(Active, &c, &facts, &CODES),
            Decision::Forward { .. }
        ));
        assert_eq!(
            decide(Refused, &c, &facts, &CODES),
            expected(Cell::RejectOptedOut)
        );
        // Case and spacing differences do not matter.
        let shouted = custom(&format!("  {} ", request.to_uppercase().replace(' ', "  ")));
        assert_eq!(
            decide(NoRow, &c, &shouted, &CODES),
            Decision::ForwardAsOptInRequest
        );
    }
    let c = campaign(Prevent);
    let edited = custom("ACME: Reply START to receive messages from ACME.");
    assert_eq!(
        decide(NoRow, &c, &edited, &CODES),
        expected(Cell::RejectPrevented)
    );
}

#[test]
fn footer_on_first_custom_message_only() {
    let footer = Some("Reply STOP to opt out.".to_owned());
    let fwd = |event, footer| Decision::Forward { event, footer };
    let unverified = Some(EventKind::UnverifiedFirstContact);
    let c = campaign(Allow);
    let first = custom("Your table is ready");
    assert_eq!(
        decide(NoRow, &c, &first, &CODES),
        fwd(unverified, footer.clone())
    );
    assert_eq!(decide(Active, &c, &first, &CODES), fwd(None, footer));

    let later = MtFacts {
        custom_message_ever_forwarded: true,
        ..first.clone()
    };
    assert_eq!(decide(NoRow, &c, &later, &CODES), fwd(unverified, None));
    let asked = MtFacts {
        opt_in_request_ever_sent: true,
        ..first.clone()
    };
    assert_eq!(decide(Active, &c, &asked, &CODES), fwd(None, None));

    let mut off = c.clone();
    off.attachment_first_message = false;
    assert_eq!(decide(Active, &off, &first, &CODES), fwd(None, None));
    let mut empty = c.clone();
    empty.footer = String::new();
    assert_eq!(decide(Active, &empty, &first, &CODES), fwd(None, None));

    let has_it = custom("Table ready. Reply STOP to opt out.");
    assert_eq!(decide(Active, &c, &has_it, &CODES), fwd(None, None));
    let mut branded = c.clone();
    branded.footer = "{brand}: STOP to end".into();
    assert_eq!(
        decide(Active, &branded, &first, &CODES),
        fwd(None, Some("ACME: STOP to end".into()))
    );
}

// ---- MO -------------------------------------------------------------------

fn mo(
    new_status: Option<ConsentStatus>,
    responses: &[ResponseKind],
    release_held: bool,
    drop_held: bool,
) -> MoDecision {
    MoDecision {
        new_status,
        responses: responses.to_vec(),
        release_held,
        drop_held,
        event: None,
    }
}

#[test]
fn mo_table_every_cell() {
    use ResponseKind::*;
    let stop = Class::OptOut("stop".into());
    let start = Class::OptIn("start".into());
    let help = Class::Help("help".into());
    let other = Class::Other;
    let refuse = mo(Some(Refused), &[OptOutResponse], false, true);
    let stop_again = mo(None, &[OptOutResponse], false, true);
    let activate = mo(Some(Active), &[OptInResponse], true, false);
    let nothing = mo(None, &[], false, false);
    let help_reply = mo(None, &[Help], false, false);
    let started_conversation = mo(Some(Active), &[], true, false);
    let ask = mo(Some(Pending), &[OptInRequest], false, false);
    #[rustfmt::skip]
    let table: Vec<(&Class, ConsentStatus, [&MoDecision; 2])> = vec![
        // class  status     inbound allow              inbound auto_opt_in
        (&stop,  NoRow,   [&refuse,                 &refuse]),
        (&stop,  Pending, [&refuse,                 &refuse]),
        (&stop,  Active,  [&refuse,                 &refuse]),
        (&stop,  Refused, [&stop_again,             &stop_again]),
        (&start, NoRow,   [&activate,               &activate]),
        (&start, Pending, [&activate,               &activate]),
        (&start, Active,  [&nothing,                &nothing]),
        (&start, Refused, [&activate,               &activate]),
        (&help,  NoRow,   [&help_reply,             &help_reply]),
        (&help,  Pending, [&help_reply,             &help_reply]),
        (&help,  Active,  [&help_reply,             &help_reply]),
        (&help,  Refused, [&help_reply,             &help_reply]),
        (&other, NoRow,   [&started_conversation,   &ask]),
        (&other, Pending, [&nothing,                &nothing]),
        (&other, Active,  [&nothing,                &nothing]),
        (&other, Refused, [&nothing,                &nothing]),
    ];
    for (class, status, cells) in table {
        for (inbound, want) in [InboundUnknown::Allow, InboundUnknown::AutoOptIn]
            .into_iter()
            .zip(cells)
        {
            let mut c = campaign(RequireOptIn);
            c.inbound_unknown = inbound;
            for mode in [PhraseMode::Flag, PhraseMode::OptOut] {
                let got = decide_mo(status, class, &c, mode);
                assert_eq!(
                    &got, want,
                    "{class:?} from {status:?}, {inbound:?}, {mode:?}"
                );
            }
        }
    }
}

#[test]
fn probable_opt_out_flags_or_refuses() {
    let probable = Class::ProbableOptOut("stop".into());
    for inbound in [InboundUnknown::Allow, InboundUnknown::AutoOptIn] {
        let mut c = campaign(RequireOptIn);
        c.inbound_unknown = inbound;
        for status in [NoRow, Pending, Active, Refused] {
            let flagged = decide_mo(status, &probable, &c, PhraseMode::Flag);
            // Flag: an event, and never an activation of "stop texting me".
            let want = MoDecision {
                event: Some(EventKind::ProbableOptOut),
                ..mo(None, &[], false, false)
            };
            assert_eq!(flagged, want, "flag from {status:?}");
            let refused = decide_mo(status, &probable, &c, PhraseMode::OptOut);
            let as_stop = decide_mo(status, &Class::OptOut("stop".into()), &c, PhraseMode::Flag);
            let want = MoDecision {
                event: Some(EventKind::ProbableOptOut),
                ..as_stop
            };
            assert_eq!(refused, want, "opt_out from {status:?}");
        }
    }
}

#[test]
fn help_without_a_help_text_sends_nothing() {
    let mut c = campaign(RequireOptIn);
    c.help_response = " ".into();
    let got = decide_mo(Active, &Class::Help("help".into()), &c, PhraseMode::Flag);
    assert_eq!(got, mo(None, &[], false, false));
}
