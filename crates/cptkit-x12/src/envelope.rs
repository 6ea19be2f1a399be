//! The envelope: ISA/IEA, GS/GE, ST/SE. Checks control numbers and counts, hands each transaction's
//! body segments to a handler, reports a bad transaction and goes on with the next.

use std::collections::VecDeque;
use std::io::Read;

use serde::Serialize;

use crate::error::{Control, SegmentRef, X12Error, X12ErrorKind};
use crate::segment::{Delimiters, Next, Segment, SegmentReader, is_envelope_segment};

/// The envelope around one transaction set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Envelope {
    /// ISA06, trimmed.
    pub sender_id: String,
    /// ISA08, trimmed.
    pub receiver_id: String,
    /// ISA13.
    pub interchange_control: String,
    /// GS02.
    pub application_sender: String,
    /// GS03.
    pub application_receiver: String,
    /// GS06.
    pub group_control: String,
    /// GS08 (`005010X222A1`).
    pub version: String,
    /// ST02.
    pub transaction_control: String,
    /// ST03, or GS08 when ST03 is empty.
    pub implementation: String,
    /// Where the ST segment is.
    pub at: SegmentRef,
}

/// One transaction set that passed the envelope checks, with what the handler read from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transaction<T> {
    pub envelope: Envelope,
    #[serde(flatten)]
    pub body: T,
}

/// Reads one kind of transaction set.
pub(crate) trait Handler {
    type Output;
    /// ST01, e.g. `837`.
    const SET: &'static str;
    fn accepts(implementation: &str) -> bool;
    fn begin(&mut self, envelope: &Envelope);
    fn segment(&mut self, segment: &Segment<'_>);
    /// A damaged segment inside the transaction (see `Next::Damaged`): true when the handler holds it
    /// against what it damages and reads on; false loses the transaction.
    fn damaged(&mut self, error: &X12Error) -> bool;
    fn finish(&mut self) -> Self::Output;
    fn abort(&mut self);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Outside,
    Interchange,
    Group,
    Transaction,
    /// A rejected transaction: drop segments up to its SE (or the next envelope segment).
    Skip,
}

pub(crate) struct Driver<R, H: Handler> {
    reader: SegmentReader<R>,
    machine: Machine<H>,
}

struct Machine<H: Handler> {
    handler: H,
    state: State,
    envelope: Envelope,
    control: Control,
    isa_at: SegmentRef,
    gs_at: SegmentRef,
    groups: u64,
    transactions: u64,
    segments: u64,
    /// Damaged fragments in the transaction that may or may not be in the sender's count.
    fragments: u64,
    stray_reported: bool,
    pending: VecDeque<Result<Transaction<H::Output>, X12Error>>,
    done: bool,
}

impl<R, H: Handler> std::fmt::Debug for Driver<R, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("state", &self.machine.state).field("segments", &self.machine.segments).finish()
    }
}

fn digits_eq(a: &str, b: &str) -> bool {
    // Control numbers compare as numbers when both are numeric (000000001 = 1), else as text.
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

impl<R: Read, H: Handler> Driver<R, H> {
    pub(crate) fn new(src: R, handler: H) -> Self {
        Driver { reader: SegmentReader::new(src), machine: Machine::new(handler) }
    }

    pub(crate) fn bytes_read(&self) -> u64 {
        self.reader.bytes_read()
    }

    pub(crate) fn delimiters(&self) -> Option<Delimiters> {
        self.reader.delimiters()
    }

    pub(crate) fn handler(&self) -> &H {
        &self.machine.handler
    }

    pub(crate) fn handler_mut(&mut self) -> &mut H {
        &mut self.machine.handler
    }

    pub(crate) fn reader_mut(&mut self) -> &mut SegmentReader<R> {
        &mut self.reader
    }

    /// The next transaction or error already read, if any.
    pub(crate) fn pop_pending(&mut self) -> Option<Result<Transaction<H::Output>, X12Error>> {
        self.machine.pending.pop_front()
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.machine.pending.is_empty()
    }

    /// The envelope of the current (or last) transaction.
    pub(crate) fn envelope(&self) -> &Envelope {
        &self.machine.envelope
    }

    /// True once the end of the input has been read (items may still be pending).
    pub(crate) fn at_end(&self) -> bool {
        self.machine.done
    }

    /// The next transaction or error.
    pub(crate) fn next_item(&mut self) -> Option<Result<Transaction<H::Output>, X12Error>> {
        loop {
            if let Some(item) = self.machine.pending.pop_front() {
                return Some(item);
            }
            if self.machine.done {
                return None;
            }
            self.step();
        }
    }

    /// Inside a transaction, with the reader in skim mode and a handler that reads no body segment:
    /// counts the body segments already in the reader's buffer without handing them out (see
    /// `SegmentReader::skip_body`).
    pub(crate) fn skip_body(&mut self) {
        if self.machine.state == State::Transaction {
            self.machine.segments += self.reader.skip_body();
        }
    }

    /// True inside a transaction that passed the checks of its ST.
    pub(crate) fn in_transaction(&self) -> bool {
        self.machine.state == State::Transaction
    }

    /// Reads one segment (or error, or the end of the input) and runs the envelope checks on it; what
    /// they produce is queued. Returns the byte offset of the segment read, if it was one.
    pub(crate) fn step(&mut self) -> Option<u64> {
        let m = &mut self.machine;
        let next = self.reader.next_segment();
        match next {
            // By reference: moving the segment out of `next` copied it (~16 instructions a segment).
            Next::Segment(ref seg) => {
                m.on_segment(seg);
                Some(seg.offset())
            }
            // One damaged segment costs the claim it is in, not its transaction.
            Next::Damaged { error, counted } if m.state == State::Transaction && m.handler.damaged(&error) => {
                m.segments += u64::from(counted);
                m.fragments += u64::from(!counted);
                None
            }
            Next::Damaged { error: e, .. } | Next::Error(e) => {
                let e = e.with_control(&m.control);
                if m.state == State::Transaction {
                    m.handler.abort();
                    m.state = State::Skip;
                    m.control.transaction = None;
                }
                m.pending.push_back(Err(e));
                None
            }
            Next::End => {
                m.done = true;
                let at = SegmentRef::new(self.reader.segments_read() + 1, self.reader.bytes_read(), b"");
                m.on_end(at);
                None
            }
        }
    }
}

impl<H: Handler> Machine<H> {
    fn new(handler: H) -> Self {
        Machine {
            handler,
            state: State::Outside,
            envelope: Envelope::default(),
            control: Control::default(),
            isa_at: SegmentRef::default(),
            gs_at: SegmentRef::default(),
            groups: 0,
            transactions: 0,
            segments: 0,
            fragments: 0,
            stray_reported: false,
            pending: VecDeque::new(),
            done: false,
        }
    }

    fn error(&mut self, kind: X12ErrorKind, at: SegmentRef, message: String) {
        self.pending.push_back(Err(X12Error::new(kind, at, message).with_control(&self.control)));
    }

    /// Closes an open transaction that was not ended by SE.
    fn unclosed(&mut self, at: SegmentRef, what: &str) {
        if self.state == State::Transaction {
            self.handler.abort();
            let st = self.envelope.transaction_control.clone();
            self.error(
                X12ErrorKind::Envelope,
                at,
                format!("transaction {st} is not closed by SE before {what}: the transaction is rejected"),
            );
        }
        if matches!(self.state, State::Transaction | State::Skip) {
            self.state = State::Group;
        }
        self.control.transaction = None;
    }

    fn on_segment(&mut self, seg: &Segment<'_>) {
        let id = seg.id();
        // Body segments first: they are nearly all of the input, and need no location unless stray.
        if !is_envelope_segment(id) {
            match self.state {
                State::Transaction => {
                    self.segments += 1;
                    self.handler.segment(seg);
                }
                State::Skip => {}
                _ => {
                    if !self.stray_reported {
                        self.stray_reported = true;
                        let shown = String::from_utf8_lossy(id).into_owned();
                        self.error(
                            X12ErrorKind::Envelope,
                            seg.at(),
                            format!("{shown} segment outside a transaction set"),
                        );
                    }
                }
            }
            return;
        }
        let at = seg.at();
        match id {
            b"ISA" => {
                self.unclosed(at, "a new ISA");
                if matches!(self.state, State::Group | State::Interchange) {
                    let isa = self.envelope.interchange_control.clone();
                    self.error(
                        X12ErrorKind::Envelope,
                        at,
                        format!("interchange {isa} is not closed by IEA before the next ISA"),
                    );
                }
                self.envelope = Envelope {
                    sender_id: seg.text(6).to_owned(),
                    receiver_id: seg.text(8).to_owned(),
                    interchange_control: seg.text(13).to_owned(),
                    ..Envelope::default()
                };
                self.control = Control { interchange: Some(seg.text(13).to_owned()), group: None, transaction: None };
                self.isa_at = at;
                self.groups = 0;
                self.state = State::Interchange;
                self.stray_reported = false;
            }
            b"GS" => {
                self.unclosed(at, "a new GS");
                match self.state {
                    State::Outside => {
                        self.error(X12ErrorKind::Envelope, at, "GS outside an interchange (no ISA)".into())
                    }
                    State::Group => {
                        let gs = self.envelope.group_control.clone();
                        self.error(
                            X12ErrorKind::Envelope,
                            at,
                            format!("group {gs} is not closed by GE before the next GS"),
                        )
                    }
                    _ => {}
                }
                self.envelope.application_sender = seg.text(2).to_owned();
                self.envelope.application_receiver = seg.text(3).to_owned();
                self.envelope.group_control = seg.text(6).to_owned();
                self.envelope.version = seg.text(8).to_owned();
                self.control.group = Some(seg.text(6).to_owned());
                self.gs_at = at;
                self.groups += 1;
                self.transactions = 0;
                self.state = State::Group;
            }
            b"ST" => self.on_st(seg),
            b"SE" => self.on_se(seg),
            b"GE" => {
                self.unclosed(at, "GE");
                if self.state != State::Group {
                    self.error(X12ErrorKind::Envelope, at, "GE without a matching GS".into());
                    return;
                }
                let count = seg.text(1);
                if count.parse::<u64>().ok() != Some(self.transactions) {
                    self.error(
                        X12ErrorKind::Envelope,
                        seg.at_element(1),
                        format!("GE01 says {count:?} transaction sets but the group has {}", self.transactions),
                    );
                }
                let (ge02, gs06) = (seg.text(2).to_owned(), self.envelope.group_control.clone());
                if !digits_eq(&ge02, &gs06) {
                    self.error(
                        X12ErrorKind::Envelope,
                        seg.at_element(2),
                        format!("GE02 {ge02:?} does not match GS06 {gs06:?} ({})", self.gs_at),
                    );
                }
                self.control.group = None;
                self.state = State::Interchange;
            }
            b"IEA" => {
                self.unclosed(at, "IEA");
                if self.state == State::Group {
                    let gs = self.envelope.group_control.clone();
                    self.error(X12ErrorKind::Envelope, at, format!("group {gs} is not closed by GE before IEA"));
                } else if self.state == State::Outside {
                    self.error(X12ErrorKind::Envelope, at, "IEA without a matching ISA".into());
                    return;
                }
                let count = seg.text(1);
                if count.parse::<u64>().ok() != Some(self.groups) {
                    self.error(
                        X12ErrorKind::Envelope,
                        seg.at_element(1),
                        format!("IEA01 says {count:?} functional groups but the interchange has {}", self.groups),
                    );
                }
                let (iea02, isa13) = (seg.text(2).to_owned(), self.envelope.interchange_control.clone());
                if !digits_eq(&iea02, &isa13) {
                    self.error(
                        X12ErrorKind::Envelope,
                        seg.at_element(2),
                        format!("IEA02 {iea02:?} does not match ISA13 {isa13:?} ({})", self.isa_at),
                    );
                }
                self.control = Control::default();
                self.state = State::Outside;
            }
            _ => {}
        }
    }

    fn on_st(&mut self, seg: &Segment<'_>) {
        let at = seg.at();
        self.unclosed(at, "the next ST");
        let st02 = seg.text(2).to_owned();
        self.control.transaction = Some(st02.clone());
        if self.state != State::Group {
            self.error(X12ErrorKind::Envelope, at, "ST outside a functional group (no GS): transaction skipped".into());
            self.state = State::Skip;
            return;
        }
        self.transactions += 1;
        self.stray_reported = false;
        let set = seg.text(1);
        if set != H::SET {
            self.error(
                X12ErrorKind::Unsupported,
                seg.at_element(1),
                format!("transaction set {set:?} skipped: this reader reads {}", H::SET),
            );
            self.state = State::Skip;
            return;
        }
        let implementation = match seg.text(3) {
            "" => self.envelope.version.clone(),
            st03 => st03.to_owned(),
        };
        if !H::accepts(&implementation) {
            self.error(
                X12ErrorKind::Unsupported,
                seg.at_element(3),
                format!(
                    "implementation {implementation:?} is not supported by the {} reader: transaction skipped",
                    H::SET
                ),
            );
            self.state = State::Skip;
            return;
        }
        self.envelope.transaction_control = st02;
        self.envelope.implementation = implementation;
        self.envelope.at = at;
        self.segments = 1;
        self.fragments = 0;
        self.handler.begin(&self.envelope);
        self.state = State::Transaction;
    }

    fn on_se(&mut self, seg: &Segment<'_>) {
        match self.state {
            State::Transaction => {}
            State::Skip => {
                self.state = State::Group;
                self.control.transaction = None;
                return;
            }
            _ => {
                self.error(X12ErrorKind::Envelope, seg.at(), "SE without a matching ST".into());
                return;
            }
        }
        self.segments += 1;
        self.state = State::Group;
        let mut bad = false;
        let count = seg.text(1);
        // A fragment that is not a segment may be a segment with a garbled id, which the sender counted,
        // or the tail of one a stray terminator split, which it did not.
        let counted = self.segments..=self.segments + std::mem::take(&mut self.fragments);
        if !count.parse::<u64>().is_ok_and(|count| counted.contains(&count)) {
            bad = true;
            self.error(
                X12ErrorKind::Envelope,
                seg.at_element(1),
                format!(
                    "SE01 says {count:?} segments but transaction {} has {} (ST to SE): the transaction is rejected",
                    self.envelope.transaction_control, self.segments
                ),
            );
        }
        let se02 = seg.text(2).to_owned();
        if se02 != self.envelope.transaction_control {
            bad = true;
            let st02 = self.envelope.transaction_control.clone();
            self.error(
                X12ErrorKind::Envelope,
                seg.at_element(2),
                format!(
                    "SE02 {se02:?} does not match ST02 {st02:?} ({}): the transaction is rejected",
                    self.envelope.at
                ),
            );
        }
        if bad {
            self.handler.abort();
        } else {
            let body = self.handler.finish();
            self.pending.push_back(Ok(Transaction { envelope: self.envelope.clone(), body }));
        }
        self.control.transaction = None;
    }

    fn on_end(&mut self, at: SegmentRef) {
        if self.state == State::Transaction {
            self.handler.abort();
            let st = self.envelope.transaction_control.clone();
            self.error(
                X12ErrorKind::Truncated,
                at,
                format!("the input ends inside transaction {st} (no SE): the transaction is rejected"),
            );
        }
        if self.state != State::Outside {
            let isa = self.envelope.interchange_control.clone();
            self.error(X12ErrorKind::Truncated, at, format!("the input ends inside interchange {isa} (no IEA)"));
        }
        self.state = State::Outside;
    }
}
