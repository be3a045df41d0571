package compat

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalizeMF(t *testing.T) {
	casstart, casstop, mfds, mdump := casstartSpec(), casstopSpec(), mfdsSpec(), mdumpSpec()
	tests := []struct {
		name string
		spec MFSpec
		in   []string
		want []string
		err  string
	}{
		// The seed's own lines.
		{"seed casstart", casstart, []string{"/rESSERV1"}, []string{"-r=ESSERV1", "--"}, ""},
		{"seed casstop", casstop, []string{"/rESSERV1"}, []string{"-r=ESSERV1", "--"}, ""},
		{"seed mdump", mdump, []string{"localhost", "ESSERV1"}, []string{"--", "localhost", "ESSERV1"}, ""},
		{"seed mfds", mfds, nil, []string{"--"}, ""},
		// Dash form, case-folded letters, glued values.
		{"dash", casstart, []string{"-rESSERV1"}, []string{"-r=ESSERV1", "--"}, ""},
		{"upper letter", casstop, []string{"/RESSERV1", "/W30"}, []string{"-r=ESSERV1", "-w=30", "--"}, ""},
		{"value keeps its case", casstart, []string{"/rEsServ1"}, []string{"-r=EsServ1", "--"}, ""},
		{"start type", casstart, []string{"/rREGION1", "/s:c"}, []string{"-r=REGION1", "-s=c", "--"}, ""},
		{"start type warm, dash", casstart, []string{"-rREGION2", "-s:w"}, []string{"-r=REGION2", "-s=w", "--"}, ""},
		{"start type without colon", casstart, []string{"/sc"}, []string{"-s=c", "--"}, ""},
		{"credentials", casstart, []string{"/rR", "/uUSR", "/pPWD", "/cGRP"}, []string{"-r=R", "-u=USR", "-p=PWD", "-c=GRP", "--"}, ""},
		{"password with a colon", casstart, []string{"/p:x"}, []string{"-p=:x", "--"}, ""},
		{"password that looks like an option, glued", casstart, []string{"/p-x"}, []string{"-p=-x", "--"}, ""},
		{"w alone", casstart, []string{"/rR", "/w"}, []string{"-r=R", "-w=", "--"}, ""},
		{"w separate digits", casstart, []string{"-w", "30", "-r", "R"}, []string{"-w=30", "-r=R", "--"}, ""},
		{"w then option", casstop, []string{"/w", "/f"}, []string{"-w=", "-f", "--"}, ""},
		{"w colon", casstop, []string{"/w:10"}, []string{"-w=10", "--"}, ""},
		{"separate value", casstart, []string{"-r", "ESSERV1"}, []string{"-r=ESSERV1", "--"}, ""},
		{"forced and immediate", casstop, []string{"/rR", "/f", "/I"}, []string{"-r=R", "-f", "-i", "--"}, ""},
		{"last one wins later", casstart, []string{"/rA", "/rB"}, []string{"-r=A", "-r=B", "--"}, ""},
		// Options only the product knows pass through as written, with the words after them.
		{"pass through", casstart, []string{"/rR", "/oSIT1", "/mhost:86", "/j:SYSIDNT=AB", "/z"}, []string{"-r=R", "--pass=/oSIT1", "--pass=/mhost:86", "--pass=/j:SYSIDNT=AB", "--pass=/z", "--"}, ""},
		{"casstop s is the product's", casstop, []string{"/rR", "/sweb:host:9003"}, []string{"-r=R", "--pass=/sweb:host:9003", "--"}, ""},
		{"mfds shutdown", mfds, []string{"-s", "2", "admin", "secret"}, []string{"-s=2", "--", "admin", "secret"}, ""},
		{"mfds glued", mfds, []string{"-s2"}, []string{"-s=2", "--"}, ""},
		{"mfds import passes with its words", mfds, []string{"-g", "5", "file.xml", "O"}, []string{"--pass=-g", "--pass=5", "--pass=file.xml", "--pass=O", "--"}, ""},
		{"mfds long", mfds, []string{"--UI-on", "--listen-all"}, []string{"--pass=--UI-on", "--pass=--listen-all", "--"}, ""},
		{"config", casstart, []string{"--config", "/etc/x.toml", "/rR"}, []string{"--config=/etc/x.toml", "-r=R", "--"}, ""},
		{"config glued", mdump, []string{"--config=/x", "localhost", "R"}, []string{"--config=/x", "--", "localhost", "R"}, ""},
		{"help", casstart, []string{"--help"}, []string{"--help", "--"}, ""},
		{"explicit pass", casstop, []string{"--pass", "/lweb", "--pass=/x"}, []string{"--pass=/lweb", "--pass=/x", "--"}, ""},
		{"double dash ends options", mdump, []string{"--", "-odd", "R"}, []string{"--", "-odd", "R"}, ""},
		// Errors: one line, the letter as typed, never a value.
		{"empty slash", casstart, []string{"/"}, nil, `"/" alone is not an option: write the letter right after it, as in /rESSERV1`},
		{"empty dash", casstop, []string{"-"}, nil, `"-" alone is not an option: write the letter right after it, as in /rESSERV1`},
		{"r needs a value", casstart, []string{"/r"}, nil, "option /r needs a value: write it right after the letter, as in /rESSERV1"},
		{"R needs a value", casstart, []string{"/R", "/w30"}, nil, "option /R needs a value: write it right after the letter, as in /RESSERV1"},
		{"p needs a value", casstart, []string{"-p"}, nil, "option -p needs a value: write it right after the letter, as in -ppassword"},
		{"bool with a value", casstop, []string{"/fx"}, nil, "option /f takes no value"},
		{"config without value", casstop, []string{"--config"}, nil, "--config needs a value"},
		{"stray word", casstart, []string{"ESSERV1"}, nil, `unexpected argument "ESSERV1": options are written /x or -x with their value glued, as in /rESSERV1`},
		{"too many operands", mdump, []string{"a", "b", "c"}, nil, `unexpected argument "c": at most 2 operands`},
		{"rest of a password is not shown", casstart, []string{"/rR", "/pmy", "secret"}, nil, "unexpected argument after the password option (not shown): quote a password that contains blanks"},
		// A password written as a long option is refused, and never shown nor handed on: casstart
		// once echoed --p=SECRET in a notice.
		{"--p=", casstart, []string{"--p=SECRET"}, nil, "option --p... is not an option here: a password is written /ppassword or -ppassword (the argument is not shown)"},
		{"--p glued", casstop, []string{"/rR", "--pSECRET"}, nil, "option --p... is not an option here: a password is written /ppassword or -ppassword (the argument is not shown)"},
		{"--password=", casstart, []string{"--password=SECRET"}, nil, "option --p... is not an option here: a password is written /ppassword or -ppassword (the argument is not shown)"},
		{"--Password then value", casstart, []string{"--Password", "SECRET"}, nil, "option --P... is not an option here: a password is written /ppassword or -ppassword (the argument is not shown)"},
		{"--pass=--password=", casstart, []string{"--pass=--password=SECRET"}, nil, "option --p... is not an option here: a password is written /ppassword or -ppassword (the argument is not shown)"},
		{"--pass then --p", casstop, []string{"--pass", "--pSECRET"}, nil, "option --p... is not an option here: a password is written /ppassword or -ppassword (the argument is not shown)"},
		{"--pass=/p is the product's", casstart, []string{"--pass=/pSECRET"}, []string{"--pass=/pSECRET", "--"}, ""},
		{"long option of mdump", mdump, []string{"h", "r", "--listen-all"}, []string{"--pass=--listen-all", "--", "h", "r"}, ""},
		{"a password to mdump", mdump, []string{"h", "r", "--password=SECRET"}, nil, "option --p... may hold a password and is not an option here (the argument is not shown)"},
		{"a password to mfds", mfds, []string{"--UI-on", "--PWD=SECRET"}, nil, "option --P... may hold a password and is not an option here (the argument is not shown)"},
		{"mfds: the rest of a password is not shown", mfds, []string{"-s", "2", "admin", "my", "secret"}, nil, "unexpected argument after the password (not shown): quote a password that contains blanks"},
		{"a password taken for the configuration", casstart, []string{"--config", "-p", "SECRET"}, nil, "unexpected argument after the password option (not shown): quote a password that contains blanks"},
		{"version", mdump, []string{"--version"}, []string{"--version", "--"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeMF(tt.in, tt.spec)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("NormalizeMF(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeMF(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("NormalizeMF(%q) =\n %q\nwant\n %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactMF(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"/rESSERV1", "/uUSR", "/pPWD"}, []string{"/rESSERV1", "/uUSR", "/p****"}},
		{[]string{"-PPWD", "/w30"}, []string{"-P****", "/w30"}},
		{[]string{"/p", "PWD", "/rR"}, []string{"/p", "****", "/rR"}},
		{[]string{"/p", "/rR"}, []string{"/p", "/rR"}},
		{[]string{"--", "/pX"}, []string{"--", "/pX"}},
		{[]string{"--pass=/pX"}, []string{"--pass=/pX"}},
		{nil, []string{}},
	}
	for _, tt := range tests {
		if got := RedactMF(tt.in, casstartSpec()); !slices.Equal(got, tt.want) {
			t.Errorf("RedactMF(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzNormalizeMF feeds arbitrary command lines (NUL-separated) to every command's grammar: no
// panic; on success every option is in canonical form and the operands follow "--"; no error
// message ever quotes a password.
func FuzzNormalizeMF(f *testing.F) {
	for _, s := range []string{
		"/rESSERV1", "-rESSERV1\x00/w30", "/RESSERV1\x00/W30\x00/F", "/s:c\x00/uU\x00/pP", "-s\x002\x00admin\x00pw",
		"--config\x00/etc/x\x00localhost\x00R", "/\x00-", "--\x00-x", "/p\x00secret\x00more", "/w\x00\x00/f", "-g\x005\x00f\x00O",
		"/pSECRETVALUE\x00SECRETVALUE2", "\xff/\xc3\xa9", "000\x00/p000", "--\x00/P0",
	} {
		f.Add(s)
	}
	specs := map[string]MFSpec{"casstart": casstartSpec(), "casstop": casstopSpec(), "mfds": mfdsSpec(), "mdump": mdumpSpec()}
	f.Fuzz(func(t *testing.T, joined string) {
		in := splitNUL(joined)
		for name, spec := range specs {
			out, err := NormalizeMF(in, spec)
			if err != nil {
				msg := err.Error()
				if strings.Contains(msg, "\n") {
					t.Fatalf("%s: multi-line error %q", name, msg)
				}
				if leakedSecret(in, spec) {
					t.Fatalf("%s: NormalizeMF(%q): the error quotes a password", name, in)
				}
				continue
			}
			dd := slices.Index(out, "--")
			if dd < 0 {
				t.Fatalf("%s: NormalizeMF(%q) = %q: no --", name, in, out)
			}
			if len(out)-dd-1 > spec.Operands {
				t.Fatalf("%s: NormalizeMF(%q) = %q: too many operands", name, in, out)
			}
			for _, o := range out[:dd] {
				if !canonical(o, spec) {
					t.Fatalf("%s: NormalizeMF(%q) = %q: %q is not canonical", name, in, out, o)
				}
			}
			if red := RedactMF(in, spec); len(red) != len(in) {
				t.Fatalf("%s: RedactMF(%q) = %q: lost arguments", name, in, red)
			}
		}
	})
}

// leakedSecret parses in again with every password (the value of a secret option, glued or the
// next word) replaced by a marker that cannot be mistaken for anything else, and reports whether
// the error then quotes the marker.
func leakedSecret(in []string, spec MFSpec) bool {
	const marker = "Q7pw-marker-Q7"
	in2 := slices.Clone(in)
	for i := 0; i < len(in2) && in2[i] != "--"; i++ {
		if !isSecretOption(in2[i], spec) {
			continue
		}
		if len(in2[i]) > 2 {
			in2[i] = in2[i][:2] + marker
		} else if i+1 < len(in2) && !looksLikeOption(in2[i+1]) {
			in2[i+1] = marker
			i++
		}
	}
	_, err := NormalizeMF(in2, spec)
	return err != nil && strings.Contains(err.Error(), marker)
}

func isSecretOption(a string, spec MFSpec) bool {
	if len(a) < 2 || (a[0] != '/' && a[0] != '-') {
		return false
	}
	o, ok := spec.option(lower(a[1]))
	return ok && o.Secret
}

// canonical reports whether o is one of the forms NormalizeMF writes before "--".
func canonical(o string, spec MFSpec) bool {
	switch {
	case o == "--help" || o == "--version":
		return true
	case strings.HasPrefix(o, "--"+PassFlag+"="):
		return true
	case strings.HasPrefix(o, "--"):
		name, _, ok := strings.Cut(o[2:], "=")
		return ok && spec.long(name)
	case len(o) >= 2 && o[0] == '-':
		opt, ok := spec.option(o[1])
		if !ok {
			return false
		}
		if opt.Kind == MFBool {
			return len(o) == 2
		}
		return len(o) >= 3 && o[2] == '='
	}
	return false
}

// The grammars of the four commands, as their flag tables in cmd/ give them (those tables are
// the source; these fixtures test the grammar itself).

// casstartSpec is casstart's: /r region, /u user, /p password, /c sign-on group, /w[seconds],
// /s:start-type. The product's /o /m /z /x /j pass through to it.
func casstartSpec() MFSpec {
	return MFSpec{
		Options: []MFOption{
			{Letter: 'r', Kind: MFValue},
			{Letter: 'u', Kind: MFValue},
			{Letter: 'p', Kind: MFValue, Secret: true},
			{Letter: 'c', Kind: MFValue},
			{Letter: 'w', Kind: MFOptional, Colon: true},
			{Letter: 's', Kind: MFValue, Colon: true},
		},
		Long: []string{"config", PassFlag},
	}
}

// casstopSpec is casstop's: /r region, /w[seconds], /f forced, /i immediate, /u user,
// /p password, /c group. The product's /s /l /x /t pass through to it.
func casstopSpec() MFSpec {
	return MFSpec{
		Options: []MFOption{
			{Letter: 'r', Kind: MFValue},
			{Letter: 'w', Kind: MFOptional, Colon: true},
			{Letter: 'f', Kind: MFBool},
			{Letter: 'i', Kind: MFBool},
			{Letter: 'u', Kind: MFValue},
			{Letter: 'p', Kind: MFValue, Secret: true},
			{Letter: 'c', Kind: MFValue},
		},
		Long: []string{"config", PassFlag},
	}
}

// mfdsSpec is mfds's: -s mode, then the user and password operands of a shutdown. Its other
// options (--UI-on, -g 5 file, ...) pass through to the product's mfds.
func mfdsSpec() MFSpec {
	return MFSpec{
		Options:       []MFOption{{Letter: 's', Kind: MFValue}},
		Long:          []string{"config", PassFlag},
		Operands:      2,
		SecretOperand: 2,
	}
}

// mdumpSpec is mdump's: the directory server's host and the region, as in
// `mdump localhost ESSERV1`.
func mdumpSpec() MFSpec {
	return MFSpec{Long: []string{"config", PassFlag}, Operands: 2}
}

// splitNUL splits a fuzzer's string into arguments at NUL bytes.
func splitNUL(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
