package manifest

// DecodeFile decodes, validates and defaults every document of one file.
// name is the path shown in errors and stored in Object.File. It never
// panics on any input, and it is safe to call from several goroutines.
func DecodeFile(name string, data []byte) ([]Object, ErrorList) {
	return decodeFile(name, data, nil)
}

// decodeFileSkipping is DecodeFile where a document whose kind is in skip
// is checked as YAML and for its identity, and returned with Skipped set.
func decodeFileSkipping(name string, data []byte, skip map[string]bool) ([]Object, ErrorList) {
	return decodeFile(name, data, skip)
}
