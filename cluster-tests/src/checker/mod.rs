//! Checkers of a fault run's [`History`](crate::history::History): the
//! registry's tenants must be linearizable ([`registry`], with the
//! [`wgl`] search), the counter workbook must lose and double no
//! acknowledged increment ([`counter`]).

pub mod availability;
pub mod counter;
pub mod registry;
pub mod wgl;
