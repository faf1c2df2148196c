//! Virtual time: the queue of scheduled events, ordered by time and then by the order in
//! which they were scheduled (so that a run is reproducible).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use tokennet::chain::Transaction;
use tokennet::types::ChannelId;

/// Milliseconds of virtual time.
pub type Millis = u64;

/// A duration in milliseconds of virtual time.
pub(super) fn millis(duration: Duration) -> Millis {
    duration.as_millis() as Millis
}

/// Something that happens at a point of virtual time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// A node arrives and joins.
    Arrive(u32),
    /// A node's lifetime is over: it leaves.
    Leave(u32),
    /// A node's transaction is included in the block of this time; `queued`: sent by
    /// the operation in progress in the node's queue (a settle is sent outside it).
    Mined {
        node: u32,
        tx: Box<Transaction>,
        queued: bool,
    },
    /// A node's manager settles a closed channel now, if it is still unsettled.
    SettleDue { node: u32, channel: ChannelId },
    /// A node's next queued operation starts.
    StartOps(u32),
    /// After every transaction of a block: the reactions the block calls for.
    BlockEnd,
    /// A row of `timeseries.csv`.
    Sample,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Scheduled {
    time: Millis,
    seq: u64,
    event: Event,
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The event queue and the current virtual time.
pub(super) struct Clock {
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    /// The time of the event being handled.
    pub(super) now: Millis,
    /// Events other than samples still queued: the run ends when none are left.
    pub(super) pending_work: u64,
    /// The scenario's duration, if it has one.
    pub(super) end: Option<Millis>,
}

impl Clock {
    /// An empty queue at time zero, ending at `end` if given.
    pub(super) fn new(end: Option<Millis>) -> Self {
        Self {
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            pending_work: 0,
            end,
        }
    }

    /// Schedules `event` at `time`; events of one time run in the order scheduled.
    pub(super) fn schedule(&mut self, time: Millis, event: Event) {
        if event != Event::Sample {
            self.pending_work += 1;
        }
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            time,
            seq: self.seq,
            event,
        }));
    }

    /// The next event, with the clock moved to its time; `None` when the queue is empty
    /// or the next event is past the end.
    pub(super) fn next(&mut self) -> Option<Event> {
        let Reverse(next) = self.queue.pop()?;
        if self.end.is_some_and(|end| next.time > end) {
            return None;
        }
        self.now = next.time;
        if next.event != Event::Sample {
            self.pending_work -= 1;
        }
        Some(next.event)
    }
}
