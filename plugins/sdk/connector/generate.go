package connector

// Regenerate the protocol code after editing pb/v1/connector.proto or
// pb/v2/operations.proto. It needs protoc (Debian: protobuf-compiler) and the
// generators on PATH:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//
//go:generate protoc --proto_path=pb/v1 --go_out=pb/v1 --go_opt=paths=source_relative --go-grpc_out=pb/v1 --go-grpc_opt=paths=source_relative connector.proto
//go:generate protoc --proto_path=pb/v2 --go_out=pb/v2 --go_opt=paths=source_relative --go-grpc_out=pb/v2 --go-grpc_opt=paths=source_relative operations.proto
