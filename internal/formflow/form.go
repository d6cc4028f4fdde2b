package formflow

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ErrNoForm is the error of Parse for a page without a form.
var ErrNoForm = errors.New("the page has no form")

// Form is the first form of a page, read as a browser reads it.
type Form struct {
	// Method is GET or POST, as the form's method attribute says (GET
	// without one).
	Method string
	// Action is where the form is sent: its action attribute resolved
	// against the page's URL.
	Action *url.URL
	// Login reports a form with a password field: a login form. Any other
	// form is taken for a consent form.
	Login bool
	// CodeEntry reports a form with a visible field named user_code: the
	// code form of a device verification page (RFC 8628 §3.3).
	CodeEntry bool

	fields  []field // the controls a submission carries, in document order
	submits []button
}

// fieldKind says what a submission puts in a field.
type fieldKind int

const (
	asIs     fieldKind = iota // the value the page gave it
	username                  // the user's username
	password                  // the user's password
	userCode                  // the user code of the device flow
)

type field struct {
	name, value string
	kind        fieldKind
}

// button is a submit button; formaction and formmethod override the form's.
type button struct {
	name, value, label, formAction, formMethod string
}

// Parse reads the first <form> of page, whose URL is base: its method,
// its action, the controls a submission carries (disabled ones left out)
// and its submit buttons. A page without a form is ErrNoForm.
func Parse(page []byte, base *url.URL) (*Form, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	var fn *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.DataAtom == atom.Form {
			fn = n
			break
		}
	}
	if fn == nil {
		return nil, ErrNoForm
	}
	f := &Form{Method: formMethod(attr(fn, "method"), http.MethodGet), Action: resolve(base, attr(fn, "action"))}
	for n := range fn.Descendants() {
		if n.Type != html.ElementNode || hasAttr(n, "disabled") {
			continue
		}
		switch n.DataAtom {
		case atom.Input:
			f.addInput(n)
		case atom.Button:
			if t := strings.ToLower(attr(n, "type")); t == "" || t == "submit" {
				f.submits = append(f.submits, newButton(n, textContent(n)))
			}
		case atom.Select:
			if name := attr(n, "name"); name != "" {
				f.fields = append(f.fields, field{name: name, value: selected(n)})
			}
		case atom.Textarea:
			if name := attr(n, "name"); name != "" {
				f.fields = append(f.fields, field{name: name, value: textContent(n)})
			}
		}
	}
	return f, nil
}

// addInput adds what an <input> contributes to a submission.
func (f *Form) addInput(n *html.Node) {
	name, value := attr(n, "name"), attr(n, "value")
	switch t := strings.ToLower(attr(n, "type")); t {
	case "submit":
		f.submits = append(f.submits, newButton(n, value))
	case "password":
		f.Login = true
		if name != "" {
			f.fields = append(f.fields, field{name: name, kind: password})
		}
	case "checkbox", "radio":
		if name != "" && hasAttr(n, "checked") {
			if !hasAttr(n, "value") {
				value = "on"
			}
			f.fields = append(f.fields, field{name: name, value: value})
		}
	case "button", "reset", "image", "file":
	default: // hidden, text, email and the other text-like types
		if name == "" {
			return
		}
		kind := asIs
		switch {
		case t == "hidden":
		case name == UserCodeField:
			kind, f.CodeEntry = userCode, true
		case isUsernameField(name, attr(n, "autocomplete")):
			kind = username
		}
		f.fields = append(f.fields, field{name: name, value: value, kind: kind})
	}
}

// isUsernameField reports a text field that asks for the username.
func isUsernameField(name, autocomplete string) bool {
	n := strings.ToLower(name)
	switch {
	case n == "username", n == "login", n == "email", n == "user", strings.HasSuffix(n, "username"):
		return true
	}
	ac := strings.Fields(strings.ToLower(autocomplete))
	return slices.Contains(ac, "username") || slices.Contains(ac, "email")
}

func newButton(n *html.Node, label string) button {
	return button{name: attr(n, "name"), value: attr(n, "value"), label: label,
		formAction: attr(n, "formaction"), formMethod: attr(n, "formmethod")}
}

// Values returns the values the page gives the form's controls (hidden
// fields, prefilled text, checked boxes, selected options) by name; a
// password field is empty and no button is pressed.
func (f *Form) Values() url.Values {
	v := make(url.Values, len(f.fields))
	for _, fl := range f.fields {
		v.Add(fl.name, fl.value)
	}
	return v
}

// Submission fills in the form with the user's credentials and returns
// the request that submits it: for POST a form-urlencoded body, for GET
// the fields as the target's query. A login form is submitted with its
// first submit button; a form without a password field is taken for a
// consent form and submitted with the button that approves.
func (f *Form) Submission(user, pass string) (method string, target *url.URL, body string) {
	return f.submission(user, pass, "", true)
}

// submission is Submission that also types code into a user_code field
// (when code is not empty), and that presses the first button that does
// not approve when approve is false.
func (f *Form) submission(user, pass, code string, approve bool) (method string, target *url.URL, body string) {
	var b strings.Builder
	add := func(name, value string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(value))
	}
	for _, fl := range f.fields {
		switch fl.kind {
		case username:
			add(fl.name, user)
		case password:
			add(fl.name, pass)
		case userCode:
			if code == "" {
				code = fl.value
			}
			add(fl.name, code)
		default:
			add(fl.name, fl.value)
		}
	}
	method, action := f.Method, f.Action
	if btn, ok := f.button(approve); ok {
		if btn.name != "" {
			add(btn.name, btn.value)
		}
		if btn.formAction != "" {
			action = resolve(f.Action, btn.formAction)
		}
		method = formMethod(btn.formMethod, method)
	}
	if method == http.MethodPost {
		return method, action, b.String()
	}
	u := *action
	u.RawQuery, u.Fragment = b.String(), ""
	return method, &u, ""
}

// button chooses the submit button: the first one, except in a form
// without a password field, where it is the first that approves, or with
// approve false the first that does not.
func (f *Form) button(approve bool) (button, bool) {
	if len(f.submits) == 0 {
		return button{}, false
	}
	if !f.Login {
		for _, b := range f.submits {
			if approves(b) == approve {
				return b, true
			}
		}
	}
	return f.submits[0], true
}

// approves reports a button whose value, name or label says yes and
// nothing that says no ("Don't allow" does not approve).
func approves(b button) bool {
	words := strings.FieldsFunc(strings.ToLower(b.value+" "+b.name+" "+b.label), func(r rune) bool { return !unicode.IsLetter(r) })
	yes := false
	for _, w := range words {
		switch w {
		case "deny", "no", "not", "don", "dont", "cancel", "reject", "decline", "disallow", "refuse":
			return false
		case "allow", "approve", "accept", "consent", "yes", "authorize", "authorise", "grant":
			yes = true
		}
	}
	return yes
}

// formMethod is POST or GET as the method attribute says, else def.
func formMethod(m, def string) string {
	switch strings.ToLower(strings.TrimSpace(m)) {
	case "post":
		return http.MethodPost
	case "get":
		return http.MethodGet
	}
	return def
}

// resolve is ref resolved against base; an empty or unreadable ref is base.
func resolve(base *url.URL, ref string) *url.URL {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return base
	}
	u, err := base.Parse(ref)
	if err != nil {
		return base
	}
	return u
}

// selected is the value of a <select>'s selected option, or its first.
func selected(sel *html.Node) string {
	var first *html.Node
	for n := range sel.Descendants() {
		if n.Type != html.ElementNode || n.DataAtom != atom.Option {
			continue
		}
		if first == nil {
			first = n
		}
		if hasAttr(n, "selected") {
			first = n
			break
		}
	}
	if first == nil {
		return ""
	}
	if v, ok := attrOK(first, "value"); ok {
		return v
	}
	return strings.TrimSpace(textContent(first))
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasAttr(n *html.Node, key string) bool {
	_, ok := attrOK(n, key)
	return ok
}

// textContent is the text inside n.
func textContent(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}
