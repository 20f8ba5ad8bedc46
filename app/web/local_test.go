package web

import "testing"

func TestLocalPath(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"/", true},
		{"/account", true},
		{"/fairs/spring-2026?tab=stalls#map", true},
		{"/fairs/庙会", true},
		{"/search?q=%E7%81%AF", true},
		{"", false},
		{"account", false},
		{"https://evil.example/x", false},
		{"javascript:alert(1)", false},
		{"//evil.example/x", false},
		{"/\\evil.example/x", false},
		{"\\\\evil.example/x", false},
		{"/\t/evil.example/x", false},
		{"/\n/evil.example/x", false},
		{"/\r\nSet-Cookie: fair_session=X; Path=/", false},
		{"/x\r\nSet-Cookie: a=b", false},
		{" /account", false},
		{"/account x", false},
		{"/account\u00a0x", false},
		{"/account\u3000x", false},
		{"/account\x00", false},
		{"/account\x7f", false},
		{"/account\u0085", false},
		{"/account\xff", false},
		{"/\x00/evil.example", false},
	}
	for _, tt := range tests {
		got, ok := LocalPath(tt.in)
		if ok != tt.want {
			t.Errorf("LocalPath(%q) ok = %v, want %v", tt.in, ok, tt.want)
		}
		if ok && got != tt.in {
			t.Errorf("LocalPath(%q) = %q, want it unchanged", tt.in, got)
		}
		if !ok && got != "" {
			t.Errorf("LocalPath(%q) = %q with ok false", tt.in, got)
		}
	}
}

func TestSafeNextFallsBackHome(t *testing.T) {
	for in, want := range map[string]string{
		"/orders":            "/orders",
		"/\t/evil.example/x": "/",
		"//evil.example":     "/",
		"":                   "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
