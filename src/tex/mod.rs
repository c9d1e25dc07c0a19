//! LaTeX lexing that every stage shares: byte-level surface syntax
//! ([`scan`]), where the math is ([`math`]), what a command is
//! ([`commands`]), and the cooperative time budget the scanners honour
//! ([`watchdog`]).
//!
//! Prepare cleans with these rules, the tokenizer metrics count with them and
//! training splits prose from math with them, so each rule has one definition
//! and the three stages cannot disagree about where a command or a formula is.
//! Nothing here depends on a pipeline stage.

pub mod commands;
pub mod math;
pub mod scan;
pub mod watchdog;
