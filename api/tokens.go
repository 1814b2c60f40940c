package api

import "time"

// PathTokens is where the admin manages bootstrap tokens: GET lists them
// (never their secrets), POST creates one (TokenCreateRequest; the answer
// is the only time its secret is shown), DELETE PathTokens/{id} removes
// one.
const PathTokens = "/berth/v1/tokens"

// What a bootstrap token may be used for.
const (
	// TokenUsageJoin registers a new node name, nothing more: from then on
	// the node authenticates by its certificate.
	TokenUsageJoin = "join"
	// TokenUsagePlan reads the cluster and plans refs (berth get, berth
	// plan --server), and changes nothing.
	TokenUsagePlan = "plan"
)

// TokenCreateRequest asks for a new bootstrap token.
type TokenCreateRequest struct {
	// TTL is how long the token lasts (0: the server's default, 24h).
	TTL Duration `json:"ttl"`
	// Usages are TokenUsage* values (default: join).
	Usages []string `json:"usages,omitempty"`
	// Description is a note for `berth token list`.
	Description string `json:"description,omitempty"`
}

// Token is a bootstrap token as the admin sees it: "ID.secret", kubeadm's
// shape; the secret is in Token only in the answer to its creation.
type Token struct {
	ID          string    `json:"id"`
	Token       string    `json:"token,omitempty"`
	Usages      []string  `json:"usages"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Description string    `json:"description,omitempty"`
}

// TokenList answers GET PathTokens.
type TokenList struct {
	Items []Token `json:"items"`
}
