//! `replicate report`: the paper's tables and figures from a profile's run outputs.

pub mod figures;
