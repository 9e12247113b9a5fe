package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/storage/ferret"
)

// recordsCommand holds maintenance of stored records. Its one task, rebuild-keys, rebuilds the keys
// collection that makes dedupe and unique fields O(1) (engine/records, KeysCollection) from the records
// themselves: after restoring a backup of the records alone, after writing to the collections around
// Rapport, or to list live records that share a unique value.
func recordsCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "records",
		Usage: "maintenance of stored records",
		Commands: []*cli.Command{{
			Name:      "rebuild-keys",
			Usage:     "rebuild the dedupe and unique-value keys of every entity (or of the named ones) from the stored records",
			ArgsUsage: "[ENTITY...]",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "mongodb-uri", Usage: "MongoDB connection string (or the embedded store's address while `rapport dev` runs)", Sources: cli.EnvVars("RAPPORT_MONGODB_URI")},
				&cli.StringFlag{Name: "mongodb-database", Value: "rapport", Usage: "MongoDB database name", Sources: cli.EnvVars("RAPPORT_MONGODB_DATABASE")},
				&cli.StringFlag{Name: "data-dir", Usage: "data directory of a stopped `rapport dev`, opened instead of --mongodb-uri", Sources: cli.EnvVars("RAPPORT_DATA_DIR")},
			},
			Action: func(ctx context.Context, cmd *cli.Command) error {
				logger, err := newLogger(cmd, stderr)
				if err != nil {
					return err
				}
				db, closeDB, err := openDatabase(ctx, cmd.String("mongodb-uri"), cmd.String("mongodb-database"), cmd.String("data-dir"), logger)
				if err != nil {
					return err
				}
				defer closeDB()
				return rebuildKeys(ctx, records.New(db, records.Options{Logger: logger}), cmd.Args().Slice(), stdout)
			},
		}},
	}
}

// openDatabase connects to MongoDB, or starts the embedded store on a data directory.
func openDatabase(ctx context.Context, uri, database, dataDir string, logger *slog.Logger) (*mongo.Database, func(), error) {
	var f *ferret.Server
	switch {
	case dataDir != "" && uri != "":
		return nil, nil, errors.New("give either --mongodb-uri or --data-dir, not both")
	case dataDir != "":
		var err error
		if f, err = ferret.Start(ctx, ferret.Config{Dir: filepath.Join(dataDir, "mongo"), Logger: logger.With("component", "ferretdb")}); err != nil {
			return nil, nil, err
		}
		uri = f.URI()
	case uri == "":
		return nil, nil, errors.New("no database: set --mongodb-uri (RAPPORT_MONGODB_URI) or --data-dir")
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetAppName("rapport-maintenance").SetTimeout(10 * time.Minute))
	if err != nil {
		if f != nil {
			f.Stop()
		}
		return nil, nil, fmt.Errorf("connect to MongoDB: %w", err)
	}
	return c.Database(database), func() {
		_ = c.Disconnect(context.Background())
		if f != nil {
			f.Stop()
		}
	}, nil
}

// rebuildKeys rebuilds the keys of the named entities (all when none) and prints what it did.
func rebuildKeys(ctx context.Context, store *records.Store, entities []string, out io.Writer) error {
	if len(entities) == 0 {
		all, err := store.ListSchemas(ctx)
		if err != nil {
			return err
		}
		for _, s := range all {
			entities = append(entities, s.Entity.Name)
		}
	}
	conflicts := 0
	for _, e := range entities {
		rep, err := store.RebuildKeys(ctx, e)
		if err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
		fmt.Fprintf(out, "%s: %d live records, %d keys (%d written, %d stale removed), %d conflicts\n",
			rep.Entity, rep.Records, rep.Keys, rep.Written, rep.Removed, len(rep.Conflicts))
		for _, c := range rep.Conflicts {
			fmt.Fprintf(out, "  %s is held by %s; also on %s\n", c.Key, c.Holder, strings.Join(c.Others, ", "))
		}
		conflicts += len(rep.Conflicts)
	}
	if conflicts > 0 {
		fmt.Fprintf(out, "%d values are shared by several live records: the oldest record keeps each; merge or change the others.\n", conflicts)
	}
	return nil
}
