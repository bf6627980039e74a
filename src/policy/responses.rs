//! The texts optgate itself sends (DESIGN.md §2, responses table).
//!
//! The opt-in and opt-out responses are fixed (only the brand varies) so
//! every recipient reads the same confirmation; the opt-in request, the help
//! response and the footer are campaign templates.

use super::campaign::Campaign;

/// A proxy-originated MT that a decision asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseKind {
    /// The campaign's `opt_in_message`.
    OptInRequest,
    /// Fixed: confirms an opt-in.
    OptInResponse,
    /// Fixed: confirms an opt-out; exactly one per opt-out keyword.
    OptOutResponse,
    /// The campaign's `help_response`.
    Help,
}

impl ResponseKind {
    /// Stable name for logs, events and the `kind` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseKind::OptInRequest => "opt_in_request",
            ResponseKind::OptInResponse => "opt_in_response",
            ResponseKind::OptOutResponse => "opt_out_response",
            ResponseKind::Help => "help",
        }
    }
}

/// The text of `kind` for `campaign`, placeholders filled.
pub fn render(kind: ResponseKind, campaign: &Campaign) -> String {
    match kind {
        ResponseKind::OptInRequest => render_template(&campaign.opt_in_message, campaign),
        ResponseKind::OptInResponse => format!(
            "{}: You are now opted-in. For help, reply HELP. To opt out, reply STOP",
            campaign.brand
        ),
        ResponseKind::OptOutResponse => format!(
            "{}: You are now opted-out and will receive no further messages",
            campaign.brand
        ),
        ResponseKind::Help => render_template(&campaign.help_response, campaign),
    }
}

/// The campaign footer, filled; `None` when the campaign has no footer.
pub fn render_footer(campaign: &Campaign) -> Option<String> {
    let footer = render_template(&campaign.footer, campaign);
    (!footer.trim().is_empty()).then_some(footer)
}

/// Fills `{brand}` and `{start_word}` in `template`. Other braces are left
/// as written, so a template may contain literal `{` `}`. A single pass: a
/// brand that itself contains `{start_word}` is not expanded again.
pub fn render_template(template: &str, campaign: &Campaign) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{brand}") {
            out.push_str(&campaign.brand);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{start_word}") {
            out.push_str(&campaign.start_word);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Campaign {
        let mut c = Campaign::new("acme-support", "ACME");
        c.help_response =
            "{brand}: Help at acme.example/help or 1-800-555-0100. Reply STOP to opt out.".into();
        c
    }

    #[test]
    fn fixed_texts_are_exact() {
        let c = acme();
        assert_eq!(
            render(ResponseKind::OptInResponse, &c),
            "ACME: You are now opted-in. For help, reply HELP. To opt out, reply STOP"
        );
        assert_eq!(
            render(ResponseKind::OptOutResponse, &c),
            "ACME: You are now opted-out and will receive no further messages"
        );
    }

    #[test]
    fn fixed_texts_ignore_templates() {
        let mut c = acme();
        c.opt_in_message = "custom".into();
        c.help_response = "custom".into();
        assert!(render(ResponseKind::OptOutResponse, &c).starts_with("ACME: You are now opted-out"));
    }

    #[test]
    fn default_opt_in_request() {
        let mut c = acme();
        c.start_word = "JOIN".into();
        assert_eq!(
            render(ResponseKind::OptInRequest, &c),
            "ACME: Reply JOIN to receive messages from ACME. Msg & data rates may apply. \
             Reply HELP for help, STOP to opt out."
        );
    }

    #[test]
    fn help_template() {
        assert_eq!(
            render(ResponseKind::Help, &acme()),
            "ACME: Help at acme.example/help or 1-800-555-0100. Reply STOP to opt out."
        );
    }

    #[test]
    fn template_edge_cases() {
        let mut c = acme();
        c.brand = "{start_word}".into();
        assert_eq!(
            render_template("{brand}/{start_word}", &c),
            "{start_word}/START"
        );
        assert_eq!(render_template("{x} { {brand", &acme()), "{x} { {brand");
        assert_eq!(render_template("", &acme()), "");
        assert_eq!(render_template("ünï {brand}", &acme()), "ünï ACME");
    }

    #[test]
    fn footer() {
        let mut c = acme();
        assert_eq!(render_footer(&c).as_deref(), Some("Reply STOP to opt out."));
        c.footer = "{brand}: STOP to end".into();
        assert_eq!(render_footer(&c).as_deref(), Some("ACME: STOP to end"));
        c.footer = "  ".into();
        assert_eq!(render_footer(&c), None);
    }
}
