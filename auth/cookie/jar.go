package cookie

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// MaxDataLen bounds a session_data value once its chunks are joined. Better
// Auth chunks values over ~4 KB; taskbolt reads at most 16 KiB of headers.
const MaxDataLen = 12 << 10

// maxChunks is Better Auth's own limit on session_data chunks.
const maxChunks = 100

// names are the cookie names Better Auth uses for one cookiePrefix, the
// __Secure- form first (it is preferred when a browser sends both).
type names struct {
	token, data [2]string
}

func namesFor(prefix string) names {
	const secure = "__Secure-"
	return names{
		token: [2]string{secure + prefix + ".session_token", prefix + ".session_token"},
		data:  [2]string{secure + prefix + ".session_data", prefix + ".session_data"},
	}
}

// jar is what a request's Cookie header holds of Better Auth's cookies.
type jar struct {
	tokenName, token string // session_token as sent (URL-encoded)
	dataName, data   string // session_data, its chunks joined
}

func (j jar) empty() bool { return j.token == "" && j.data == "" }

// String is the jar as a Cookie header: the credential the source hands to
// the verifier, which parses it back with parseJar.
func (j jar) String() string {
	var b strings.Builder
	if j.token != "" {
		b.WriteString(j.tokenName + "=" + j.token)
	}
	if j.data != "" {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(j.dataName + "=" + j.data)
	}
	return b.String()
}

// parseJar reads Better Auth's cookies from a Cookie header as Better Auth
// does: the first cookie of a name wins; a session_data sent whole wins over
// its chunks, which are otherwise joined in index order. Anything malformed
// is skipped: a cookie that cannot be read is no credential.
func parseJar(header string, n names) jar {
	type chunk struct {
		index int
		value string
	}
	var (
		tokens, datas [2]string
		chunks        [2][]chunk
	)
	for part := range strings.SplitSeq(header, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		if value == "" {
			continue
		}
		for i := range 2 {
			switch {
			case name == n.token[i]:
				if tokens[i] == "" {
					tokens[i] = value
				}
			case name == n.data[i]:
				if datas[i] == "" {
					datas[i] = value
				}
			case strings.HasPrefix(name, n.data[i]+"."):
				index, err := strconv.Atoi(name[len(n.data[i])+1:])
				if err == nil && index >= 0 && index < maxChunks && len(chunks[i]) < maxChunks &&
					!slices.ContainsFunc(chunks[i], func(c chunk) bool { return c.index == index }) {
					chunks[i] = append(chunks[i], chunk{index, value})
				}
			}
		}
	}
	var j jar
	for i := range 2 {
		if j.token == "" && tokens[i] != "" {
			j.tokenName, j.token = n.token[i], tokens[i]
		}
		if j.data != "" {
			continue
		}
		data := datas[i]
		if data == "" && len(chunks[i]) > 0 {
			slices.SortFunc(chunks[i], func(a, b chunk) int { return cmp.Compare(a.index, b.index) })
			var b strings.Builder
			for _, c := range chunks[i] {
				b.WriteString(c.value)
			}
			data = b.String()
		}
		if data != "" && len(data) <= MaxDataLen {
			j.dataName, j.data = n.data[i], data
		}
	}
	return j
}
