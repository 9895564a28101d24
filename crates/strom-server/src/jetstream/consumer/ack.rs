//! Acknowledgements on a consumer's ack subjects: the body forms (`+ACK`, `-NAK` with a
//! delay, `+WPI`, `+NXT`, `+TERM` with a reason), applied to the consumer's state and journaled
//! within the round, and answered once the round's journals are synced (see [`super::pump`]).

use std::sync::Arc;

use bytes::Bytes;

use super::pump::{Replies, Runner};
use super::state::{self, Acked};
use super::{journal, Consumer, Inner};
use crate::jetstream::advisory;

/// A parsed acknowledgement body.
enum AckKind<'a> {
    Ack,
    Next(&'a [u8]),
    Nak(&'a [u8]),
    Progress,
    Term(&'a [u8]),
    Other,
}

fn ack_kind(body: &[u8]) -> AckKind<'_> {
    if body.is_empty() || body == b"+ACK" || body == b"+OK" {
        AckKind::Ack
    } else if let Some(rest) = body.strip_prefix(b"+NXT") {
        AckKind::Next(rest)
    } else if let Some(rest) = body.strip_prefix(b"-NAK") {
        AckKind::Nak(rest)
    } else if body == b"+WPI" {
        AckKind::Progress
    } else if let Some(rest) = body.strip_prefix(b"+TERM") {
        AckKind::Term(rest)
    } else {
        AckKind::Other
    }
}

/// `(delivery count, stream sequence, consumer sequence)` of an ack subject
/// `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>`.
fn ack_info(subject: &[u8]) -> Option<(u64, u64, u64)> {
    let t: Vec<&[u8]> = subject.split(|b| *b == b'.').collect();
    let n = |i: usize| -> Option<u64> { std::str::from_utf8(t.get(i)?).ok()?.parse().ok() };
    if t.len() == 9 {
        Some((n(4)?, n(5)?, n(6)?))
    } else if t.len() >= 11 {
        // `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<dc>.<sseq>.<dseq>.…`.
        Some((n(6)?, n(7)?, n(8)?))
    } else {
        None
    }
}

/// A Go duration (`500ms`) or nanoseconds in JSON (`{"delay":…}`) after `-NAK`.
fn nak_delay(arg: &[u8]) -> Option<i64> {
    let arg = arg.trim_ascii();
    if arg.is_empty() {
        return None;
    }
    if arg[0] == b'{' {
        #[derive(serde::Deserialize)]
        struct Delay {
            #[serde(default)]
            delay: i64,
        }
        return serde_json::from_slice::<Delay>(arg)
            .ok()
            .map(|d| d.delay.clamp(0, MAX_NAK_DELAY));
    }
    let s = std::str::from_utf8(arg).ok()?;
    strom_conf::parse_duration(s).ok().map(|d| {
        i64::try_from(d.as_nanos())
            .unwrap_or(i64::MAX)
            .min(MAX_NAK_DELAY)
    })
}

/// The longest NAK delay taken (a year, in nanoseconds): a client's number is bounded before
/// it is added to a time.
const MAX_NAK_DELAY: i64 = 365 * 24 * 3600 * 1_000_000_000;

impl Runner {
    /// One ack: applied to the consumer's state and journaled; its reply queued. Returns the
    /// pull request an `+NXT` carries.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ack(
        &self,
        server: &Arc<crate::server::Shared>,
        c: &Arc<Consumer>,
        subject: &[u8],
        reply: Option<Bytes>,
        body: &[u8],
        now: i64,
        replies: &mut Replies,
    ) -> Option<(Bytes, Bytes)> {
        let (dc, sseq, dseq) = ack_info(subject)?;
        // Only what an ack needs: this runs for every ack.
        let (policy, ack_wait, freq) = {
            let cfg = c.config.read();
            let freq: u64 = cfg.sample_freq.trim_end_matches('%').parse().unwrap_or(0);
            (cfg.ack_policy, cfg.ack_wait, freq)
        };
        let mut inner = c.inner.lock();
        let mut answer = true;
        let mut next = None;
        let mut apply_ack = |inner: &mut Inner, sample: bool| -> bool {
            let delivered_at = inner.state.pending.get(&sseq).map(|p| p.ts);
            let done: Acked = inner.state.ack(sseq, dseq, policy, now);
            if !done.seqs.is_empty() {
                let rec = state::record::acked(inner.state.ack_floor, &done.seqs);
                journal(inner, &rec);
                inner.unsynced = true;
                replies
                    .acked
                    .extend(done.seqs.iter().map(|s| (c.clone(), *s)));
                if sample && freq > 0 {
                    let took = now - delivered_at.unwrap_or(inner.state.last_delivered);
                    self.sample(server, c, freq, inner, (dseq, sseq, dc), took);
                }
            }
            sseq < inner.state.next || !inner.skip.is_empty()
        };
        match ack_kind(body) {
            AckKind::Ack => answer = apply_ack(&mut inner, true),
            AckKind::Next(rest) => {
                apply_ack(&mut inner, true);
                answer = false;
                if let Some(r) = &reply {
                    next = Some((r.clone(), Bytes::copy_from_slice(rest)));
                }
            }
            AckKind::Term(rest) => {
                answer = apply_ack(&mut inner, false);
                let reason = String::from_utf8_lossy(rest.trim_ascii()).into_owned();
                advisory::consumer_terminated(
                    server,
                    &self.ctx,
                    &self.stream,
                    &c.name,
                    (dseq, sseq, dc),
                    &reason,
                );
            }
            AckKind::Nak(rest) => {
                if inner.state.is_pending(sseq, dseq) {
                    advisory::consumer_nak(
                        server,
                        &self.ctx,
                        &self.stream,
                        &c.name,
                        (dseq, sseq, dc),
                    );
                    match nak_delay(rest) {
                        Some(d) => {
                            inner.state.redeliver.remove(&sseq);
                            if let Some(p) = inner.state.pending.get_mut(&sseq) {
                                p.ts = now.saturating_sub(ack_wait).saturating_add(d);
                            }
                            let at = now.saturating_add(d);
                            inner.redeliver_at = Some(inner.redeliver_at.map_or(at, |t| t.min(at)));
                        }
                        None => {
                            inner.state.redeliver.insert(sseq);
                        }
                    }
                }
            }
            AckKind::Progress => {
                if let Some(p) = inner.state.pending.get_mut(&sseq) {
                    p.ts = now;
                }
            }
            AckKind::Other => {}
        }
        if sseq == 0 {
            answer = false;
        }
        if answer {
            if let Some(r) = reply {
                replies.frames.push((c.clone(), r, None));
            }
        }
        next
    }

    /// `$JS.EVENT.METRIC.CONSUMER.ACK` for a sampled share (`freq` percent) of acks; `took` is
    /// the time from delivery to ack.
    pub(super) fn sample(
        &self,
        server: &Arc<crate::server::Shared>,
        c: &Consumer,
        freq: u64,
        inner: &mut Inner,
        (dseq, sseq, dc): (u64, u64, u64),
        took: i64,
    ) {
        inner.acks_seen += 1;
        if freq < 100 && rand::random::<u64>() % 100 >= freq {
            return;
        }
        advisory::consumer_ack_metric(
            server,
            &self.ctx,
            &self.stream,
            &c.name,
            (dseq, sseq, dc),
            took.max(0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects_and_bodies() {
        assert_eq!(
            ack_info(b"$JS.ACK.S.C.2.10.12.1700000000.3"),
            Some((2, 10, 12))
        );
        assert_eq!(
            ack_info(b"$JS.ACK.dom.hash.S.C.1.5.5.1700000000.0.tok"),
            Some((1, 5, 5))
        );
        assert_eq!(ack_info(b"$JS.ACK.S.C.x"), None);
        assert!(matches!(ack_kind(b""), AckKind::Ack));
        assert!(matches!(ack_kind(b"+NXT {\"batch\":2}"), AckKind::Next(_)));
        assert!(matches!(ack_kind(b"-NAK"), AckKind::Nak(_)));
        assert!(matches!(ack_kind(b"+TERM bad"), AckKind::Term(_)));
        assert!(matches!(ack_kind(b"+FOO"), AckKind::Other));
        assert_eq!(nak_delay(b" 500ms"), Some(500_000_000));
        assert_eq!(nak_delay(b" {\"delay\":2000}"), Some(2000));
        assert_eq!(nak_delay(b""), None);
        assert_eq!(
            nak_delay(b" {\"delay\":9223372036854775807}"),
            Some(MAX_NAK_DELAY)
        );
        assert_eq!(nak_delay(b" {\"delay\":-5}"), Some(0));
    }
}
