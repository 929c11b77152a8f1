//! Proof that the resolved parameters reached the model: verification (what the evaluator
//! recorded as used, against what its backend sent) and the wire audit (what every request
//! actually carried, seen by an auditing proxy between each job and the server). Two
//! independent verdicts, kept apart.

pub mod audit;
pub mod rendered;
pub mod verification;
pub mod wire_audit;
