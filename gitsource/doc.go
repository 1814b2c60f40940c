// Package gitsource turns a Git repository into a stream of validated
// snapshots: it keeps its own bare clone, fetches on a poll interval or on a
// push webhook, follows a branch, tag or commit, optionally verifies commit
// signatures (OpenPGP and SSH), and decodes the manifests of the commit's
// tree (never a work tree) with package manifest. A revision with any error
// is not applied: the last good snapshot stays current.
//
// # Using it
//
//	src, err := gitsource.New(gitsource.Options{
//		URL:  "https://git.example.com/ops/cluster.git",
//		Ref:  "main",
//		Path: "deploy/prod",
//		Dir:  filepath.Join(dataDir, "git"),
//		Password: gitsource.Secret{File: "/etc/berth/git-token"},
//	})
//	if err != nil { ... }          // errors.Is(err, gitsource.ErrInvalidOptions)
//	defer src.Close()
//	hook, _ := src.Webhook(gitsource.WebhookOptions{Provider: gitsource.GitHub,
//		Secret: gitsource.Secret{File: "/etc/berth/hook-secret"}})
//	mux.Handle("POST /hooks/github", hook)
//	go src.Run(ctx)
//	for {
//		select {
//		case <-src.Updated():
//			snap := src.Current() // reconcile against snap.Objects
//		case <-ctx.Done():
//			return
//		}
//	}
//
// Status returns what `berth status` shows: the last fetch attempt and
// success, the fetch error, the applied revision, and the fetched revision
// that was rejected with every manifest error (file, line, field). Nothing
// the Source logs, returns or reports holds a credential: secrets are read
// from files or environment variables when needed, passwords in URLs are
// refused, and error texts are scrubbed.
//
// # How one attempt works
//
//	Sync ─► list remote refs ──────────► same commit as last time? ─► done
//	        (one round trip, Timeout)         │ no
//	                                          ▼
//	        fetch that ref only (incremental, Timeout) into Dir
//	                                          │
//	        verify the commit's signature (if Verify is "head")
//	                                          │
//	        manifest.Loader over the tree under Path: read .berth.yaml,
//	        render kustomization roots and charts whose inputs changed
//	        (package render), decode only blobs not seen in the previous
//	        revision (same blob, same objects); CheckUnique
//	                                          │
//	                 errors? ── yes ─► Status.Rejected, logged once; keep current
//	                                          │ no
//	        warn if it does not descend from the applied commit (force push),
//	        make it current, record it in Dir, signal Updated
//
// Run calls Sync at once, then every Interval plus up to Jitter×Interval,
// after a failed fetch with backoff from MinBackoff doubling to MaxBackoff,
// and at once when a webhook (or Trigger) asks; requests that arrive before
// an attempt starts are served by that one attempt. A rejected revision is
// not a failure: polling goes on at the normal interval, and the revision
// is judged again only if it changes or the trust files change.
//
// # Contract for callers
//
//   - Snapshots are immutable and share decoded objects with one another:
//     treat Objects and everything they point to as read-only.
//   - Updated has room for one signal and is meant for one reader, which
//     then reads Current; signals coalesce, so a slow reader loses nothing
//     but intermediate revisions.
//   - Errors wrap exactly one of ErrInvalidOptions, ErrRepositoryNotFound,
//     ErrAuth, ErrHostKey, ErrRefNotFound, ErrUnavailable, ErrFetch,
//     ErrUntrustedCommit, ErrInvalidManifests and ErrClosed. Fetch failures
//     are *FetchError; refused revisions are *RejectedError, whose Errors
//     (a manifest.ErrorList) errors.As also finds.
//   - Dir belongs to one Source: a second one on the same Dir fails (the
//     clone is flocked). The applied revision is recorded there, so after a
//     restart the Source rebuilds that snapshot from the local clone before
//     touching the network, and a server that restarts while Git is down or
//     holds a bad commit still has its last good desired state.
//   - Every network call is bounded by Timeout. go-git does not honour the
//     context during an SSH handshake, so a call that outlives it is
//     abandoned, and until it ends Sync reports ErrUnavailable instead of
//     starting another.
//   - With a default Ref the webhook matches pushes to the branch the
//     remote's HEAD named at the last listing; if the remote changes its
//     default branch, the next poll picks that up.
package gitsource
