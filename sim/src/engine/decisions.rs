//! `decisions.csv`: every decision of every node's connection manager, written as it is
//! made, with `--decisions`. Off by default: a million nodes make millions of decisions,
//! and without the flag the engine builds no row and renders no reason.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use tokennet::connection::Decision;
use tokennet::types::{checksummed, Address};

use super::clock::Millis;
use super::Engine;

/// The header of `decisions.csv`.
pub const DECISIONS_HEADER: &str =
    "time_hours,block,node,address,kind,partner,channel_id,amount,strategy,reason,inputs";

/// Where one decision was made: the node, and when.
#[derive(Clone, Copy, Debug)]
pub(super) struct At {
    /// Virtual time.
    pub(super) now: Millis,
    /// Block number (virtual time over the block time).
    pub(super) block: u64,
    /// The node's index.
    pub(super) node: u32,
    /// The node's address.
    pub(super) address: Address,
}

/// A `decisions.csv` being written. Rows go through a buffer; the first write error is
/// kept and reported when the log is finished, so that the run is not interrupted.
pub struct DecisionLog {
    out: BufWriter<Box<dyn Write>>,
    line: String,
    rows: u64,
    error: Option<io::Error>,
}

impl DecisionLog {
    /// A log written to `out`, header first.
    pub fn new(out: Box<dyn Write>) -> Self {
        let mut log = Self {
            out: BufWriter::with_capacity(1 << 16, out),
            line: String::with_capacity(512),
            rows: 0,
            error: None,
        };
        let header = format!("{DECISIONS_HEADER}\n");
        log.write(header.as_bytes());
        log
    }

    /// A log written to the file `path` (created or truncated).
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(Self::new(Box::new(File::create(path)?)))
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none() {
            if let Err(error) = self.out.write_all(bytes) {
                self.error = Some(error);
            }
        }
    }

    /// Writes one row per decision.
    pub(super) fn record(&mut self, at: At, decisions: &[Decision]) {
        for decision in decisions {
            self.line.clear();
            let line = &mut self.line;
            let _ = write!(
                line,
                "{:.6},{},{},{},{},",
                at.now as f64 / 3_600_000.0,
                at.block,
                at.node,
                checksummed(&at.address),
                decision.kind
            );
            if let Some(partner) = decision.partner {
                line.push_str(&checksummed(&partner));
            }
            line.push(',');
            if let Some(channel) = decision.channel_id {
                let _ = write!(line, "{}", channel.0);
            }
            line.push(',');
            if let Some(amount) = decision.amount {
                let _ = write!(line, "{amount}");
            }
            let _ = write!(line, ",{},", decision.strategy.name());
            push_field(line, &decision.reason());
            line.push(',');
            let inputs: Vec<String> = decision
                .inputs
                .entries()
                .into_iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            push_field(line, &inputs.join(";"));
            line.push('\n');
            let line = std::mem::take(&mut self.line);
            self.write(line.as_bytes());
            self.line = line;
            self.rows += 1;
        }
    }

    /// Flushes the log; returns how many rows it holds, or the first write error.
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

impl Engine<'_> {
    /// Writes node `n`'s decisions to the log, if there is one. Without one, nothing
    /// is built: no row, no reason.
    #[inline]
    pub(super) fn record_decisions(&mut self, n: u32, decisions: &[Decision]) {
        if let Some(log) = self.decisions.as_mut() {
            let at = At {
                now: self.clock.now,
                block: self.clock.now / self.blocks.block_ms,
                node: n,
                address: self.index.addresses[n as usize],
            };
            log.record(at, decisions);
        }
    }
}

/// Appends `field` to a CSV line, quoted when it holds a comma, a quote or a line break
/// (RFC 4180: quotes inside are doubled).
fn push_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_or_quotes_are_quoted() {
        let mut line = String::new();
        push_field(&mut line, "plain");
        line.push(',');
        push_field(&mut line, "a, b");
        line.push(',');
        push_field(&mut line, "say \"why\"");
        assert_eq!(line, "plain,\"a, b\",\"say \"\"why\"\"\"");
    }
}
