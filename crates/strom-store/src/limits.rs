//! Retention limits (JetStream's `limits` retention with `discard: old`): the oldest messages
//! go when a stream holds too many messages or bytes, when they are older than `max_age`, or
//! when their subject holds more than `max_msgs_per_subject`. Enforced after each append and by
//! the caller's timer for age; the same code serves every backend.

use crate::{Store, StoreError};

/// Limits on what a stream keeps; `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_msgs: Option<u64>,
    pub max_bytes: Option<u64>,
    /// Nanoseconds.
    pub max_age: Option<i64>,
    pub max_msgs_per_subject: Option<u64>,
}

/// Removes what the limits no longer allow, at time `now` (nanoseconds). `subject` is the
/// subject just appended to, whose per-subject limit is checked. Returns how many went.
///
/// # Errors
/// The store's errors writing the removals.
pub fn enforce(
    store: &mut dyn Store,
    limits: &Limits,
    now: i64,
    subject: Option<&[u8]>,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    if let (Some(max), Some(subject)) = (limits.max_msgs_per_subject, subject) {
        loop {
            match store.subject_count(subject) {
                (n, Some(oldest)) if n > max => {
                    store.delete(oldest)?;
                    removed += 1;
                }
                _ => break,
            }
        }
    }
    loop {
        let st = store.state();
        if st.msgs == 0 {
            break;
        }
        let over = limits.max_msgs.is_some_and(|m| st.msgs > m)
            || limits.max_bytes.is_some_and(|m| st.bytes > m)
            // The oldest message's time is read only when an age limit asks for it.
            || limits
                .max_age
                .is_some_and(|age| store.first().is_some_and(|(_, ts)| ts <= now - age));
        if !over {
            break;
        }
        store.delete(st.first_seq)?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;

    fn filled(n: u64) -> MemStore {
        let mut s = MemStore::new();
        for i in 0..n {
            s.append(
                format!("s.{}", i % 3).as_bytes(),
                b"",
                b"0123456789",
                i as i64 * 10,
            )
            .expect("append");
        }
        s
    }

    #[test]
    fn max_msgs_keeps_the_newest() {
        let mut s = filled(10);
        let lim = Limits {
            max_msgs: Some(4),
            ..Limits::default()
        };
        assert_eq!(enforce(&mut s, &lim, 0, None).expect("enforce"), 6);
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (4, 7, 10));
    }

    #[test]
    fn max_bytes_and_age() {
        let mut s = filled(10);
        let per = s.state().bytes / 10;
        let lim = Limits {
            max_bytes: Some(per * 5),
            ..Limits::default()
        };
        enforce(&mut s, &lim, 0, None).expect("enforce");
        assert_eq!(s.state().msgs, 5);
        // Messages were stamped 0, 10, ..., 90: at now = 100 with max_age 25, 70 and older go.
        let lim = Limits {
            max_age: Some(25),
            ..Limits::default()
        };
        enforce(&mut s, &lim, 100, None).expect("enforce");
        assert_eq!(s.state().first_seq, 9);
    }

    #[test]
    fn per_subject_limit() {
        let mut s = filled(9);
        let lim = Limits {
            max_msgs_per_subject: Some(1),
            ..Limits::default()
        };
        enforce(&mut s, &lim, 0, Some(b"s.0")).expect("enforce");
        assert_eq!(s.subject_count(b"s.0"), (1, Some(7)));
        assert_eq!(s.subject_count(b"s.1").0, 3);
    }
}
