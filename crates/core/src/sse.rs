//! A server-sent events decoder: bytes in, complete events out. Pure, so
//! it is tested without a network (the model client reads upstream streams
//! with it, the payer SDK reads paid streams with it).

/// One complete event: its `event:` name, if any, and its data (its
/// `data:` lines joined by `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (`None`: the default `message` event).
    pub event: Option<String>,
    /// The data.
    pub data: String,
}

/// Splits a byte stream into events. Comments, `id:` and `retry:` fields
/// are skipped; events without data are dropped.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buffer: Vec<u8>,
    data: Option<String>,
    event: Option<String>,
}

/// The longest line accepted, bytes; a longer one is a protocol error
/// (a misbehaving peer must not grow memory without bound).
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// A line longer than [`MAX_LINE`] or not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed event stream: {0}")]
pub struct SseError(pub String);

impl SseDecoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        SseDecoder::default()
    }

    /// Feeds bytes; returns the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, SseError> {
        Ok(self.push_events(bytes)?.into_iter().map(|e| e.data).collect())
    }

    /// Feeds bytes; returns every event they complete, with its name.
    pub fn push_events(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.buffer[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let line = &self.buffer[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = std::str::from_utf8(line).map_err(|e| SseError(format!("line is not UTF-8: {e}")))?;
            if let Some(event) = end_of_line(&mut self.data, &mut self.event, line) {
                events.push(event);
            }
            start = end + 1;
        }
        self.buffer.drain(..start);
        if self.buffer.len() > MAX_LINE {
            return Err(SseError(format!("a line is longer than {MAX_LINE} bytes")));
        }
        Ok(events)
    }
}

/// Handles one line of the event being read (`data` and `event` are what
/// it has so far); returns the event when the line ends it.
fn end_of_line(data: &mut Option<String>, event: &mut Option<String>, line: &str) -> Option<SseEvent> {
    if line.is_empty() {
        let name = event.take();
        return data.take().map(|data| SseEvent { event: name, data });
    }
    if line.starts_with(':') {
        return None;
    }
    let (field, value) = line.split_once(':').unwrap_or((line, ""));
    let value = value.strip_prefix(' ').unwrap_or(value);
    match field {
        "data" => match data {
            Some(d) => {
                d.push('\n');
                d.push_str(value);
            }
            None => *data = Some(value.to_owned()),
        },
        "event" => *event = Some(value.to_owned()),
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<String> {
        let mut decoder = SseDecoder::new();
        input.chunks(piece).flat_map(|c| decoder.push(c).expect("valid stream")).collect()
    }

    #[test]
    fn events_survive_any_split_of_the_bytes() {
        let input = b": keep-alive\n\ndata: {\"a\":1}\n\nevent: x\r\nid: 7\r\ndata: one\r\ndata:two\r\n\r\ndata: [DONE]\n\n";
        let want = vec!["{\"a\":1}".to_owned(), "one\ntwo".to_owned(), "[DONE]".to_owned()];
        for piece in 1..=input.len() {
            assert_eq!(decode_in_pieces(input, piece), want, "split every {piece} bytes");
        }
    }

    #[test]
    fn event_names_are_kept_per_event() {
        let mut decoder = SseDecoder::new();
        let events = decoder.push_events(b"data: a\n\nevent: payment_required\ndata: {}\n\nevent: ping\n\ndata: b\n\n").expect("ok");
        assert_eq!(
            events,
            vec![
                SseEvent { event: None, data: "a".into() },
                SseEvent { event: Some("payment_required".into()), data: "{}".into() },
                SseEvent { event: None, data: "b".into() },
            ],
            "a name without data is dropped with its event"
        );
    }

    #[test]
    fn an_unfinished_event_is_held_back() {
        let mut decoder = SseDecoder::new();
        assert_eq!(decoder.push(b"data: half").expect("ok"), Vec::<String>::new());
        assert_eq!(decoder.push(b"\n").expect("ok"), Vec::<String>::new());
        assert_eq!(decoder.push(b"\n").expect("ok"), vec!["half".to_owned()]);
        assert_eq!(decoder.push(b"event: ping\n\n").expect("ok"), Vec::<String>::new(), "no data, no event");
    }

    #[test]
    fn multibyte_text_split_across_pushes_is_kept_whole() {
        let input = "data: 你好\n\n".as_bytes();
        assert_eq!(decode_in_pieces(input, 1), vec!["你好".to_owned()]);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(SseDecoder::new().push(b"data: \xff\xfe\n").is_err(), "not UTF-8");
        let long = vec![b'a'; MAX_LINE + 1];
        assert!(SseDecoder::new().push(&long).is_err(), "endless line");
    }
}
