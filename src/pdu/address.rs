//! An SMPP address: type of number, numbering plan and the digits, as one
//! value instead of three loose fields or a tuple.

use super::{Body, DataSm, Sm, SubmitMulti, Text};

/// One SMPP address (`*_addr_ton`, `*_addr_npi`, `*_addr`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Address {
    /// Type of number.
    pub ton: u8,
    /// Numbering plan indicator.
    pub npi: u8,
    /// The address as sent (C-string without its NUL).
    pub addr: Text,
}

impl Address {
    /// An address from its three fields.
    pub fn new(ton: u8, npi: u8, addr: impl Into<Text>) -> Address {
        Address {
            ton,
            npi,
            addr: addr.into(),
        }
    }
}

/// Reads and writes the source and destination of a body that has both.
macro_rules! addressed {
    ($($t:ty),*) => {$(
        impl $t {
            /// The source address.
            pub fn source(&self) -> Address {
                Address::new(self.source_addr_ton, self.source_addr_npi, self.source_addr.clone())
            }

            /// Sets the source address.
            pub fn set_source(&mut self, a: Address) {
                (self.source_addr_ton, self.source_addr_npi, self.source_addr) = (a.ton, a.npi, a.addr);
            }
        }
    )*};
}

addressed!(Sm, DataSm, SubmitMulti);

impl Sm {
    /// The destination address.
    pub fn destination(&self) -> Address {
        Address::new(
            self.dest_addr_ton,
            self.dest_addr_npi,
            self.destination_addr.clone(),
        )
    }

    /// Sets the destination address.
    pub fn set_destination(&mut self, a: Address) {
        (
            self.dest_addr_ton,
            self.dest_addr_npi,
            self.destination_addr,
        ) = (a.ton, a.npi, a.addr);
    }
}

impl DataSm {
    /// The destination address.
    pub fn destination(&self) -> Address {
        Address::new(
            self.dest_addr_ton,
            self.dest_addr_npi,
            self.destination_addr.clone(),
        )
    }
}

impl Body {
    /// The source address of a submit_sm, deliver_sm, data_sm or
    /// submit_multi.
    pub fn source(&self) -> Option<Address> {
        match self {
            Body::SubmitSm(s) | Body::DeliverSm(s) => Some(s.source()),
            Body::DataSm(d) => Some(d.source()),
            Body::SubmitMulti(m) => Some(m.source()),
            _ => None,
        }
    }

    /// The destination address of a submit_sm, deliver_sm or data_sm.
    pub fn destination(&self) -> Option<Address> {
        match self {
            Body::SubmitSm(s) | Body::DeliverSm(s) => Some(s.destination()),
            Body::DataSm(d) => Some(d.destination()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_and_write_the_three_fields() {
        let mut sm = Sm::default();
        sm.set_source(Address::new(5, 0, "Brand"));
        sm.set_destination(Address::new(1, 1, "14155550100"));
        assert_eq!((sm.source_addr_ton, sm.source_addr_npi), (5, 0));
        assert_eq!(&sm.source_addr[..], b"Brand");
        assert_eq!(sm.destination(), Address::new(1, 1, "14155550100"));
        let body = Body::DeliverSm(Box::new(sm));
        assert_eq!(body.source().map(|a| a.ton), Some(5));
        assert_eq!(Body::EnquireLink.destination(), None);
    }
}
