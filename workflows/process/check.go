package process

// CheckType checks a JSON-decoded value against a declared variable type name, so the API refuses a
// start or update with a wrong type before any instance exists (the same rule the instance applies).
func CheckType(typ string, v any) error { return checkType(typ, v) }
