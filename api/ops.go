package api

// Paths of the operator's calls (admin token).
const (
	// PathSync: POST makes the server fetch the repository now and
	// answers when that fetch ended, with the revision it found.
	PathSync = "/berth/v1/sync"
	// PathBackup: GET streams a consistent copy of the server's store (a
	// bbolt file), taken while it keeps serving.
	PathBackup = "/berth/v1/backup"
)

// SyncResponse answers PathSync.
type SyncResponse struct {
	// Fetched is the revision the fetch found at the followed ref; the
	// server applies or refuses it next (see SyncStatus).
	Fetched string `json:"fetched,omitempty"`
	// FetchError is why the fetch failed, "" if it succeeded.
	FetchError string `json:"fetchError,omitempty"`
}
