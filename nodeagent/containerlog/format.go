package containerlog

import (
	"bytes"
	"fmt"
	"time"
)

// Stream names one of a container's output streams.
type Stream string

const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Tags of the CRI format: a full line, or part of one.
const (
	tagFull    = 'F'
	tagPartial = 'P'
)

// MaxLineSize is the longest line kept whole; longer lines are split into
// partial lines of this size, as containerd's CRI plugin does (its
// max_container_log_line_size default).
const MaxLineSize = 16 << 10

// timeFormat is the CRI timestamp: RFC 3339 with nanoseconds.
const timeFormat = time.RFC3339Nano

// Entry is one line of a log file.
type Entry struct {
	Time   time.Time // zero for a plain line
	Stream Stream
	// Partial marks a piece of a line that continues in the next entry of
	// the same stream.
	Partial bool
	// Content is the line's bytes, without the newline.
	Content []byte
}

// appendEntry appends e in CRI form, newline included, to b.
func appendEntry(b []byte, t time.Time, s Stream, partial bool, content []byte) []byte {
	b = t.UTC().AppendFormat(b, timeFormat)
	b = append(b, ' ')
	b = append(b, s...)
	b = append(b, ' ')
	if partial {
		b = append(b, tagPartial)
	} else {
		b = append(b, tagFull)
	}
	b = append(b, ' ')
	b = append(b, content...)
	return append(b, '\n')
}

// ParseLine reads one line of a log file, without its newline. A line not
// in CRI form is taken whole as a full stdout line without a time, which
// is how plain log files (cio.LogFile) read.
func ParseLine(line []byte) Entry {
	e, err := parseCRI(line)
	if err != nil {
		return Entry{Stream: Stdout, Content: line}
	}
	return e
}

func parseCRI(line []byte) (Entry, error) {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return Entry{}, fmt.Errorf("no timestamp")
	}
	t, err := time.Parse(timeFormat, string(ts))
	if err != nil {
		return Entry{}, err
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return Entry{}, fmt.Errorf("no stream")
	}
	s := Stream(stream)
	if s != Stdout && s != Stderr {
		return Entry{}, fmt.Errorf("unknown stream %q", stream)
	}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// "<time> <stream> F" with nothing after: an empty line.
		tag, content = rest, nil
	}
	if len(tag) != 1 || (tag[0] != tagFull && tag[0] != tagPartial) {
		return Entry{}, fmt.Errorf("unknown tag %q", tag)
	}
	return Entry{Time: t, Stream: s, Partial: tag[0] == tagPartial, Content: content}, nil
}
