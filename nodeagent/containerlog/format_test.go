package containerlog

import (
	"bytes"
	"testing"
	"time"
)

func TestParseLine(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name string
		line string
		want Entry
	}{
		{name: "full stdout", line: "2025-01-02T03:04:05.123456789Z stdout F hello world", want: Entry{Time: ts, Stream: Stdout, Content: []byte("hello world")}},
		{name: "partial stderr", line: "2025-01-02T03:04:05.123456789Z stderr P part", want: Entry{Time: ts, Stream: Stderr, Partial: true, Content: []byte("part")}},
		{name: "empty line with separator", line: "2025-01-02T03:04:05.123456789Z stdout F ", want: Entry{Time: ts, Stream: Stdout}},
		{name: "empty line without separator", line: "2025-01-02T03:04:05.123456789Z stdout F", want: Entry{Time: ts, Stream: Stdout}},
		{name: "content keeps its spaces", line: "2025-01-02T03:04:05.123456789Z stdout F  a  b ", want: Entry{Time: ts, Stream: Stdout, Content: []byte(" a  b ")}},
		{name: "short timestamp", line: "2025-01-02T03:04:05Z stdout F x", want: Entry{Time: ts.Truncate(time.Second), Stream: Stdout, Content: []byte("x")}},
		{name: "plain line", line: "just text", want: Entry{Stream: Stdout, Content: []byte("just text")}},
		{name: "bad stream is plain", line: "2025-01-02T03:04:05Z stdin F x", want: Entry{Stream: Stdout, Content: []byte("2025-01-02T03:04:05Z stdin F x")}},
		{name: "bad tag is plain", line: "2025-01-02T03:04:05Z stdout X x", want: Entry{Stream: Stdout, Content: []byte("2025-01-02T03:04:05Z stdout X x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseLine([]byte(tt.line))
			if !got.Time.Equal(tt.want.Time) || got.Stream != tt.want.Stream || got.Partial != tt.want.Partial || !bytes.Equal(got.Content, tt.want.Content) {
				t.Fatalf("ParseLine(%q) = %+v (%q), want %+v (%q)", tt.line, got, got.Content, tt.want, tt.want.Content)
			}
		})
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte("2025-01-02T03:04:05.123456789Z stdout F hello"), true, false)
	f.Add([]byte(""), false, true)
	f.Add([]byte("x y z"), true, true)
	f.Fuzz(func(t *testing.T, content []byte, stderr, partial bool) {
		// Anything parses without panicking.
		_ = ParseLine(content)
		// What the writer writes reads back the same, unless the content
		// holds a newline, which the writer never puts in one entry.
		if bytes.ContainsRune(content, '\n') {
			return
		}
		s := Stdout
		if stderr {
			s = Stderr
		}
		ts := time.Unix(1700000000, 42).UTC()
		line := appendEntry(nil, ts, s, partial, content)
		got := ParseLine(line[:len(line)-1])
		if !got.Time.Equal(ts) || got.Stream != s || got.Partial != partial || !bytes.Equal(got.Content, content) {
			t.Fatalf("round trip of %q gave %+v", content, got)
		}
	})
}
