//! SMPP 3.4 `command_status` codes (SMPP34.md §3).
//!
//! The status field is a `u32` on the wire and any value is kept as it
//! arrives; these constants name the ones SMPP 3.4 defines.

/// Declares the status constants and the name table from one list, so the
/// two can never drift apart.
macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        $($(#[$doc])* pub const $name: u32 = $value;)*

        /// The SMPP 3.4 name of a status code, e.g. `"ESME_RTHROTTLED"` for
        /// `0x58`. Codes in the vendor range 0x400–0x4FF give
        /// `"VENDOR_SPECIFIC"`; any other unassigned code gives `"RESERVED"`.
        pub fn status_name(status: u32) -> &'static str {
            match status {
                $($value => stringify!($name),)*
                s if is_vendor_specific(s) => "VENDOR_SPECIFIC",
                _ => "RESERVED",
            }
        }
    };
}

statuses! {
    /// No error.
    ESME_ROK = 0x0000_0000;
    /// Message length is invalid.
    ESME_RINVMSGLEN = 0x0000_0001;
    /// Command length is invalid.
    ESME_RINVCMDLEN = 0x0000_0002;
    /// Invalid command id.
    ESME_RINVCMDID = 0x0000_0003;
    /// Incorrect bind status for the given command.
    ESME_RINVBNDSTS = 0x0000_0004;
    /// ESME already in bound state.
    ESME_RALYBND = 0x0000_0005;
    /// Invalid priority flag.
    ESME_RINVPRTFLG = 0x0000_0006;
    /// Invalid registered delivery flag.
    ESME_RINVREGDLVFLG = 0x0000_0007;
    /// System error.
    ESME_RSYSERR = 0x0000_0008;
    /// Invalid source address.
    ESME_RINVSRCADR = 0x0000_000A;
    /// Invalid destination address.
    ESME_RINVDSTADR = 0x0000_000B;
    /// Message id is invalid.
    ESME_RINVMSGID = 0x0000_000C;
    /// Bind failed.
    ESME_RBINDFAIL = 0x0000_000D;
    /// Invalid password.
    ESME_RINVPASWD = 0x0000_000E;
    /// Invalid system id.
    ESME_RINVSYSID = 0x0000_000F;
    /// cancel_sm failed.
    ESME_RCANCELFAIL = 0x0000_0011;
    /// replace_sm failed.
    ESME_RREPLACEFAIL = 0x0000_0013;
    /// Message queue full.
    ESME_RMSGQFUL = 0x0000_0014;
    /// Invalid service type.
    ESME_RINVSERTYP = 0x0000_0015;
    /// Invalid number of destinations.
    ESME_RINVNUMDESTS = 0x0000_0033;
    /// Invalid distribution list name.
    ESME_RINVDLNAME = 0x0000_0034;
    /// Destination flag is invalid (submit_multi).
    ESME_RINVDESTFLAG = 0x0000_0040;
    /// Invalid "submit with replace" request.
    ESME_RINVSUBREP = 0x0000_0042;
    /// Invalid esm_class field data.
    ESME_RINVESMCLASS = 0x0000_0043;
    /// Cannot submit to distribution list.
    ESME_RCNTSUBDL = 0x0000_0044;
    /// submit_sm or submit_multi failed.
    ESME_RSUBMITFAIL = 0x0000_0045;
    /// Invalid source address TON.
    ESME_RINVSRCTON = 0x0000_0048;
    /// Invalid source address NPI.
    ESME_RINVSRCNPI = 0x0000_0049;
    /// Invalid destination address TON.
    ESME_RINVDSTTON = 0x0000_0050;
    /// Invalid destination address NPI.
    ESME_RINVDSTNPI = 0x0000_0051;
    /// Invalid system_type field.
    ESME_RINVSYSTYP = 0x0000_0053;
    /// Invalid replace_if_present flag.
    ESME_RINVREPFLAG = 0x0000_0054;
    /// Invalid number of messages.
    ESME_RINVNUMMSGS = 0x0000_0055;
    /// Throttling error (ESME has exceeded allowed message limits).
    ESME_RTHROTTLED = 0x0000_0058;
    /// Invalid scheduled delivery time.
    ESME_RINVSCHED = 0x0000_0061;
    /// Invalid message validity period (expiry time).
    ESME_RINVEXPIRY = 0x0000_0062;
    /// Predefined message invalid or not found.
    ESME_RINVDFTMSGID = 0x0000_0063;
    /// ESME receiver temporary application error.
    ESME_RX_T_APPN = 0x0000_0064;
    /// ESME receiver permanent application error.
    ESME_RX_P_APPN = 0x0000_0065;
    /// ESME receiver reject message error.
    ESME_RX_R_APPN = 0x0000_0066;
    /// query_sm request failed.
    ESME_RQUERYFAIL = 0x0000_0067;
    /// Error in the optional part of the PDU body.
    ESME_RINVOPTPARSTREAM = 0x0000_00C0;
    /// Optional parameter not allowed.
    ESME_ROPTPARNOTALLWD = 0x0000_00C1;
    /// Invalid parameter length.
    ESME_RINVPARLEN = 0x0000_00C2;
    /// Expected optional parameter missing.
    ESME_RMISSINGOPTPARAM = 0x0000_00C3;
    /// Invalid optional parameter value.
    ESME_RINVOPTPARAMVAL = 0x0000_00C4;
    /// Delivery failure (data_sm_resp).
    ESME_RDELIVERYFAILURE = 0x0000_00FE;
    /// Unknown error.
    ESME_RUNKNOWNERR = 0x0000_00FF;
}

/// First code of the SMSC vendor-specific range.
pub const VENDOR_SPECIFIC_FIRST: u32 = 0x0000_0400;
/// Last code of the SMSC vendor-specific range.
pub const VENDOR_SPECIFIC_LAST: u32 = 0x0000_04FF;

/// True for codes in the vendor-specific range 0x400–0x4FF, which SMPP 3.4
/// leaves to SMSC vendors and which may appear in any response.
pub fn is_vendor_specific(status: u32) -> bool {
    (VENDOR_SPECIFIC_FIRST..=VENDOR_SPECIFIC_LAST).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_known_vendor_and_reserved_codes() {
        assert_eq!(status_name(ESME_ROK), "ESME_ROK");
        assert_eq!(status_name(0x58), "ESME_RTHROTTLED");
        assert_eq!(status_name(0xC3), "ESME_RMISSINGOPTPARAM");
        assert_eq!(status_name(0x0000_0401), "VENDOR_SPECIFIC");
        assert_eq!(status_name(0x09), "RESERVED");
        assert_eq!(status_name(0x4A), "RESERVED");
        assert_eq!(status_name(0x500), "RESERVED");
    }
}
