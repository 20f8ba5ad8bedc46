package app

import (
	"reflect"
	"testing"

	"miaohui/catalog"
)

func TestTextProblem(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines bool
		want  string
	}{
		{"plain", "泰州网络庙会 2026", false, ""},
		{"empty", "", false, ""},
		{"replacement char as typed", "\ufffd", false, ""},
		{"NUL", "a\x00b", true, msgControl},
		{"bell", "\a", true, msgControl},
		{"DEL", "\x7f", true, msgControl},
		{"C1 control", "a\u0085b", true, msgControl},
		{"newline in a value", "line one\r\nline two\tend", true, ""},
		{"newline in the URL", "a\nb", false, msgControl},
		{"tab in the URL", "a\tb", false, msgControl},
		{"invalid byte", "a\xffb", true, msgNotUTF8},
		{"truncated rune", "灯"[:2], true, msgNotUTF8},
		{"overlong encoding", "\xc0\xaf", true, msgNotUTF8},
		{"encoded surrogate", "\xed\xa0\x80", true, msgNotUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := textProblem([]byte(tt.in), tt.lines); got != tt.want {
				t.Errorf("textProblem(%q, %v) = %q, want %q", tt.in, tt.lines, got, tt.want)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []catalog.FieldError
	}{
		{"clean", `{"title":"兔子灯","price":1250,"tags":["a","b"],"x":null,"y":true}`, nil},
		{"line breaks allowed", `{"description":"one\ntwo\r\n\tthree"}`, nil},
		{"escaped unicode", `{"name":"\u5e99\u4f1a \ud83c\udfee"}`, nil},
		{"NUL escape", `{"name":"a\u0000b"}`, []catalog.FieldError{{Field: "name", Message: msgControl}}},
		{"escaped control", `{"name":"\u001b[31m"}`, []catalog.FieldError{{Field: "name", Message: msgControl}}},
		{"backspace escape", `{"name":"a\bb"}`, []catalog.FieldError{{Field: "name", Message: msgControl}}},
		{"invalid UTF-8", "{\"title\":\"a\xffb\"}", []catalog.FieldError{{Field: "title", Message: msgNotUTF8}}},
		{"lone high surrogate", `{"title":"\ud800x"}`, []catalog.FieldError{{Field: "title", Message: msgNotUTF8}}},
		{"lone low surrogate", `{"title":"\udc00"}`, []catalog.FieldError{{Field: "title", Message: msgNotUTF8}}},
		{"two high surrogates", `{"title":"\ud800\ud800"}`, []catalog.FieldError{{Field: "title", Message: msgNotUTF8}}},
		{"nested", `{"items":[{"note":"ok"},{"note":"bad\u0000"}]}`, []catalog.FieldError{{Field: "items[1].note", Message: msgControl}}},
		{"deep", `{"a":{"b":{"c":["x",["\u0000"]]}}}`, []catalog.FieldError{{Field: "a.b.c[1][0]", Message: msgControl}}},
		{"top-level array", `["ok","\u0000"]`, []catalog.FieldError{{Field: "[1]", Message: msgControl}}},
		{"top-level string", `"\u0000"`, []catalog.FieldError{{Field: "body", Message: msgControl}}},
		{"bad key", `{"ti\u0000tle":"x"}`, []catalog.FieldError{{Field: "body", Message: msgControl}}},
		{"several", `{"a":"\u0000","b":"ok","c":"\u0001"}`, []catalog.FieldError{{Field: "a", Message: msgControl}, {Field: "c", Message: msgControl}}},
		{"escaped quote and slash", `{"a":"say \"hi\" \/ \\"}`, nil},
		{"whitespace everywhere", " { \"a\" : [ 1 , \"\\u0000\" ] } ", []catalog.FieldError{{Field: "a[1]", Message: msgControl}}},
		{"not JSON is left to the handler", `{"a":`, nil},
		{"raw NUL is not JSON", "{\"a\":\"\x00\"}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bad inputErrors
			checkJSON([]byte(tt.body), &bad)
			if !reflect.DeepEqual(bad.fields, tt.want) {
				t.Errorf("checkJSON(%q) = %v, want %v", tt.body, bad.fields, tt.want)
			}
		})
	}
}
