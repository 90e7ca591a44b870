// Package sesconnector sends verification emails (sign-in, sign-up, password reset and the
// other Logto usage types) through Amazon SES API v2. It is the Go counterpart of Logto's
// "AWS Direct Mail" connector: the same JSON config loads unchanged, is validated completely
// (every problem at once, each by its JSON path), and its templates render with the same
// {{code}} placeholders.
//
// The happy path: load the config, build one Connector at start and share it, send:
//
//	cfg, err := sesconnector.LoadConfig("ses.json") // Logto's connector config
//	conn, err := sesconnector.New(ctx, cfg)          // one SES client, safe for concurrent use
//	id, err := conn.SendMessage(ctx, "user@example.com", sesconnector.UsageSignIn,
//		sesconnector.Payload{"code": "123456", "locale": "pt-BR"})
//
// Every error matches one of the sentinels with errors.Is: ErrInvalidConfig for the config and
// the options, ErrInvalidParameters for a bad recipient, usage type or payload (nothing is
// sent), ErrSendFailed and ErrThrottled for what SES said. Compose returns the exact
// SendEmailInput without sending; SendTest sends the Generic template, as Logto's Test button.
//
// Where to go next:
//   - Going to production: Check (what SES says of the account, identity and configuration
//     set), Warm, WithSuppressionCheck, WithRecipientLimit and WithMaxSendRate.
//   - After the send: package feedback reads bounces, complaints and deliveries from SNS, SQS
//     and EventBridge.
//   - Across replicas: the module github.com/sesconnector/sesconnector/redislimit.
//   - Trying templates: the command github.com/sesconnector/sesconnector/cmd/sesconnector
//     (send, check, validate, preview).
//
// Each option has a runnable example below.
package sesconnector
