package compat

import (
	"fmt"
	"strings"
)

// This file reads the command lines of Micro Focus Enterprise Server's casstart, casstop, mfds
// and mdump the way the product does, and rewrites them into a form urfave/cli parses.
//
// The legacy grammar (research/legacy-tools.md §5): an option is a slash or a dash and one
// letter, in either case (/W30 is /w30), and its value is glued to it: /rESSERV1, -rESSERV1,
// /w30, /s:c. There is no space after the letter in the product's documentation, but scripts
// written by hand sometimes have one, so a value option with nothing glued takes the next
// argument when that argument does not itself look like an option.

// MFKind is how a legacy option takes its value.
type MFKind int

const (
	// MFBool takes no value: /f, /i. Anything glued after the letter is an error.
	MFBool MFKind = iota
	// MFValue needs a value: /rESSERV1, or /r ESSERV1.
	MFValue
	// MFOptional may have a value: /w alone, or /w30. A separate argument is taken as its value
	// only when it is all digits, so "/w /f" stays two options.
	MFOptional
)

// MFOption is one legacy option a command understands.
type MFOption struct {
	// Letter is the option's letter in lower case.
	Letter byte
	Kind   MFKind
	// Colon strips one ':' in front of the value, as /s:c and /j:SYSIDNT=xxxx are written.
	Colon bool
	// Secret marks a value that must never be shown (/p, the password): RedactMF hides it, and
	// an error about a stray argument right after it does not quote that argument.
	Secret bool
}

// MFSpec is what one command understands. Everything else that looks like an option (a slash or
// dash form with another letter, or a long option not listed) is passed through untouched, for
// the real product's binary; see NormalizeMF.
type MFSpec struct {
	Options []MFOption
	// Long lists the long options (without "--") that take a value, such as "config"; list
	// PassFlag too, so that an explicit --pass is not passed through inside another.
	Long []string
	// Operands is how many operands the command takes at most (mdump: host and region).
	Operands int
}

func (s MFSpec) option(letter byte) (MFOption, bool) {
	for _, o := range s.Options {
		if o.Letter == letter {
			return o, true
		}
	}
	return MFOption{}, false
}

func (s MFSpec) long(name string) bool {
	for _, l := range s.Long {
		if l == name {
			return true
		}
	}
	return false
}

// PassFlag is the long option NormalizeMF writes each passed-through argument under.
const PassFlag = "pass"

// NormalizeMF rewrites a legacy command line (without the command name) into the form the
// command's urfave/cli App parses:
//
//   - a known option becomes "-x" (MFBool) or "-x=value"; an MFOptional option written alone
//     becomes "-x=" (empty: the command's default);
//   - a listed long option becomes "--name=value"; "--help" stays "--help";
//   - any other option, in slash, dash or double-dash form, becomes "--pass=<argument as
//     given>", so the real product gets it unchanged, and so do the plain words right after it
//     (only the product knows how many values its options take: mfds -g 5 file O);
//   - operands follow a "--", in their order.
//
// "--" ends the options: what follows is operands. Errors name the option as the user wrote its
// letter, never a value: a value may be a password.
func NormalizeMF(args []string, spec MFSpec) ([]string, error) {
	var opts, operands []string
	// afterSecret is true while the argument before is a secret option: a stray word there is
	// probably the rest of a password with a blank in it.
	afterSecret, strayAfterSecret := false, false
	// passing is true after an option passed through: only the product knows how many words
	// it takes (mfds -g 5 file O), so the plain words after it go along with it.
	passing := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		prevSecret := afterSecret
		afterSecret = false
		if looksLikeOption(a) {
			passing = false
		}
		switch {
		case a == "--":
			operands = append(operands, args[i+1:]...)
			i = len(args)
		case a == "--help":
			opts = append(opts, a)
		case strings.HasPrefix(a, "--"):
			name, value, glued := strings.Cut(a[2:], "=")
			if !spec.long(name) {
				opts = append(opts, "--"+PassFlag+"="+a)
				passing = true
				continue
			}
			if !glued {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("--%s needs a value", name)
				}
				i++
				value = args[i]
			}
			opts = append(opts, "--"+name+"="+value)
		case a == "/" || a == "-":
			return nil, fmt.Errorf("%q alone is not an option: write the letter right after it, as in /rESSERV1", a)
		case looksLikeOption(a):
			o, known := spec.option(lower(a[1]))
			if !known {
				opts = append(opts, "--"+PassFlag+"="+a)
				passing = true
				continue
			}
			afterSecret = o.Secret
			flag := a[:2]
			value := a[2:]
			if o.Colon {
				value = strings.TrimPrefix(value, ":")
			}
			switch o.Kind {
			case MFBool:
				if value != "" {
					return nil, fmt.Errorf("option %s takes no value", flag)
				}
				opts = append(opts, "-"+string(o.Letter))
				continue
			case MFValue:
				if value == "" {
					if i+1 >= len(args) || looksLikeOption(args[i+1]) {
						return nil, fmt.Errorf("option %s needs a value: write it right after the letter, as in %s%s", flag, flag, example(o.Letter))
					}
					i++
					value = args[i]
				}
			case MFOptional:
				if value == "" && i+1 < len(args) && allDigits(args[i+1]) {
					i++
					value = args[i]
				}
			}
			opts = append(opts, "-"+string(o.Letter)+"="+value)
		case passing:
			opts = append(opts, "--"+PassFlag+"="+a)
		default:
			if len(operands) == spec.Operands && prevSecret {
				strayAfterSecret = true
			}
			operands = append(operands, a)
		}
	}
	if len(operands) > spec.Operands {
		if strayAfterSecret {
			return nil, fmt.Errorf("unexpected argument after the password option (not shown): quote a password that contains blanks")
		}
		if spec.Operands == 0 {
			return nil, fmt.Errorf("unexpected argument %q: options are written /x or -x with their value glued, as in /rESSERV1", operands[0])
		}
		return nil, fmt.Errorf("unexpected argument %q: at most %d operands", operands[spec.Operands], spec.Operands)
	}
	out := append(opts, "--")
	return append(out, operands...), nil
}

// RedactMF returns args with the value of every Secret option of spec replaced by "****", for
// log lines that show a legacy command line: /pSECRET becomes /p****, and with "/p SECRET" the
// separate argument becomes ****. The number of arguments is kept.
func RedactMF(args []string, spec MFSpec) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || (a[0] != '/' && a[0] != '-') || a[1] == '-' {
			continue
		}
		o, ok := spec.option(lower(a[1]))
		if !ok || !o.Secret {
			continue
		}
		if len(a) > 2 {
			out[i] = a[:2] + "****"
			continue
		}
		// A separate value: NormalizeMF takes the next argument when it is not an option.
		if o.Kind == MFValue && i+1 < len(out) && !looksLikeOption(out[i+1]) {
			out[i+1] = "****"
			i++
		}
	}
	return out
}

// looksLikeOption reports whether a may be an option rather than the value of the one before it.
func looksLikeOption(a string) bool {
	return len(a) >= 2 && (a[0] == '/' || a[0] == '-')
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// example is a sample value for an error message; never the user's value.
func example(letter byte) string {
	switch letter {
	case 'r':
		return "ESSERV1"
	case 'w':
		return "30"
	case 's':
		return ":c"
	case 'u':
		return "user"
	case 'p':
		return "password"
	case 'c':
		return "group"
	}
	return "value"
}

// The command lines of the four commands. They are functions, not variables, so that nothing
// can change them at run time.

// CasstartSpec is casstart's: /r region, /u user, /p password, /c sign-on group, /w[seconds],
// /s:start-type. The product's /o /m /z /x /j pass through to it.
func CasstartSpec() MFSpec {
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

// CasstopSpec is casstop's: /r region, /w[seconds], /f forced, /i immediate, /u user,
// /p password, /c group. The product's /s /l /x /t pass through to it.
func CasstopSpec() MFSpec {
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

// MfdsSpec is mfds's: -s mode, then the user and password operands of a shutdown. Its other
// options (--UI-on, -g 5 file, ...) pass through to the product's mfds.
func MfdsSpec() MFSpec {
	return MFSpec{
		Options:  []MFOption{{Letter: 's', Kind: MFValue}},
		Long:     []string{"config", PassFlag},
		Operands: 2,
	}
}

// MdumpSpec is mdump's: the directory server's host and the region, as in
// `mdump localhost ESSERV1`.
func MdumpSpec() MFSpec {
	return MFSpec{Long: []string{"config", PassFlag}, Operands: 2}
}
