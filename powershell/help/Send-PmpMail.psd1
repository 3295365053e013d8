@{
    Synopsis    = 'Sends mail through Microsoft Graph as a mailbox, using an Entra ID app registration or a managed identity (Send-MailMessage''s parameters, without SMTP).'
    Description = @'
Send-PmpMail sends a message with the Microsoft Graph sendMail API as the mailbox given by -From, authenticating as an app registration that holds the Mail.Send application permission (client secret or certificate). It replaces Send-MailMessage for unattended jobs: the parameter names, positions and aliases are the same (-To, -Subject, -Body, -From, -Cc, -Bcc, -ReplyTo, -Attachments, -BodyAsHtml, -Priority, -Encoding), and every message parameter binds by property name, so Import-Csv list.csv | Send-PmpMail sends one message per row.

Attachments of any size are sent: files of 3 MB or more go through a draft and an upload session, which needs Mail.ReadWrite as well; without it the message fails with an error instead of arriving without its attachment. Inline images are attached with -InlineAttachment and referenced in an HTML body as cid:<id>. Text is always UTF-8.

Pipeline input is sent as one batch: Send-PmpMail collects the records (checking each one and resolving its attachments as it comes in, so a bad record gets its error at once), and when the input ends sends them concurrently, at most -ThrottleLimit (default 4, Graph's limit per app and mailbox) in flight per sending mailbox. A mailbox that Graph throttles (429 with Retry-After) waits while the others go on. Results, errors and -PassThru objects come in input order after the batch; Write-Progress shows the count, the rate and how long a throttled mailbox still waits. -ThrottleLimit 1 sends one message at a time in input order, as before batches. With -ErrorAction Stop (or $ErrorActionPreference = 'Stop') the batch stops at its first failed message, as a loop would: messages that had not started are not sent, and each gets a PmpMail.Cancelled error in $Error. A single call without pipeline input sends right away.

Ctrl+C stops a batch within about a second: messages still waiting for their turn are not sent, and a request already on its way runs to its answer. PowerShell accepts no output from a stopped command, so each message that was not sent gets its ErrorRecord in $Error (PmpMail.Cancelled for those that never had their turn, PmpMail.OutcomeUnknown for one whose answer was lost), and the console shows a summary with their input indexes. Ctrl+C (or a terminating error upstream) before the input ended sends nothing at all; the collected records are reported the same way.

A failed message is a non-terminating error, so the rest of the pipeline is still sent. The error id names the cause (PmpMail.SendFailed.ErrorAccessDenied, PmpMail.AuthenticationFailed.AADSTS7000215, PmpMail.OutcomeUnknown ...), the message says what to do, and the exception carries Graph's request id. Throttling (429/503) is retried with Retry-After. -Verbose shows every step: token from cache or endpoint, request ids, retry waits; never secrets.
'@
    Parameters  = @{
        To               = 'Recipients, as addresses or "Display Name <address>". Mandatory, position 0, like Send-MailMessage.'
        Subject          = 'The subject (position 1). Any Unicode text.'
        Body             = 'The body (position 2): plain text, or HTML with -BodyAsHtml.'
        From             = 'The mailbox to send as, for example alerts@contoso.com ("Name <address>" is accepted). The app must be allowed to send as it: Mail.Send, and the mailbox must be in any application access policy that restricts the app.'
        Cc               = 'Carbon-copy recipients.'
        Bcc              = 'Blind carbon-copy recipients.'
        ReplyTo          = 'Addresses replies should go to.'
        Attachments      = 'Files to attach: paths (relative ones are resolved against the current location) or file objects from Get-ChildItem. Paths also bind from the pipeline. A missing file is an error and the message is not sent. The parameter type is PmpMail.AttachmentPath, which strings and files convert to, so that piped Import-Csv rows are never mistaken for attachment paths (a Send-MailMessage pitfall).'
        BodyAsHtml       = 'The body is HTML.'
        Priority         = 'The importance: Normal (default), High or Low.'
        Encoding         = 'Accepted for compatibility with Send-MailMessage and ignored: subject, body, names and file names are always sent as UTF-8, which Graph requires.'
        SaveToSentItems  = 'Whether a copy is kept in the sending mailbox''s Sent Items. Default $true.'
        InlineAttachment = 'Inline images as a hashtable of content id to file path, for example @{ logo = ''./logo.png'' }, referenced in an HTML body as <img src="cid:logo">.'
        Header           = 'Custom internet headers as a hashtable of name to value. Names must start with x- (Graph''s rule); at most 5.'
        PassThru         = 'Returns PmpMail.SendResult objects: InputIndex (the record''s 0-based position in the pipeline input), Status, ErrorId, Attempts, RequestId, ClientRequestId, DurationMs, UploadSession. For pipeline input one per input record, in input order, whatever happened to it: Status is sent, failed (not sent), unknown (the answer was lost after Graph may have accepted it; it is never sent again) or cancelled (Ctrl+C came first; not sent), and ErrorId names the error written for it. A record that PowerShell cannot bind (for example BodyAsHtml = maybe) never reaches Send-PmpMail and gets no index. A single call returns one object when the message was sent.'
        ThrottleLimit    = 'Pipeline input: how many messages are in flight at once per sending mailbox (1 to 16, default 4, which is what Graph allows per app and mailbox; more are refused with 429 MailboxConcurrency and retried). 1 sends one message at a time, in input order, across mailboxes too. Above 4, a client made for this call (credential parameters or -ProfileName) allows that many; a -Connection or the Connect-PmpMail session connection keeps its own limit (4).'
        WhatIf           = 'Shows what would be sent without sending anything.'
        Confirm          = 'Asks for confirmation before each message.'
    }
    Inputs      = @{
        'System.String'                  = 'Attachment paths, by value.'
        'System.Management.Automation.PSObject' = 'Objects with To, Subject, Body, From, Cc, Bcc, ... properties (for example Import-Csv rows): one message per object.'
    }
    Outputs     = @{
        'None'               = 'By default.'
        'PmpMail.SendResult' = 'With -PassThru.'
    }
    Examples    = @(
        @{
            Title   = 'Send through Gmail (Google Workspace) with a service account key file'
            Code    = @'
Send-PmpMail -To 'ops@example.com' -Subject 'Patch report' -Body 'All servers patched.' -From 'alerts@example.com' `
    -ServiceAccountKeyPath ./pmp-sender.json
'@
            Remarks = 'Sends through the Gmail API as alerts@example.com (the -From address is the user impersonated; -Impersonate picks another). The service account needs domain-wide delegation for https://www.googleapis.com/auth/gmail.send in the Google Admin console. With a key kept in a vault: -ServiceAccountKey (Get-Secret GmailKey); in a CI secret variable: -ServiceAccountKeyEnvironmentVariable GMAIL_SA_KEY.'
        }
        @{
            Title   = 'Send through Gmail with a certificate whose public key was uploaded to the service account'
            Code    = @'
Send-PmpMail -To 'ops@example.com' -Subject 'Patch report' -From 'alerts@example.com' `
    -ServiceAccountEmail 'pmp-sender@my-project.iam.gserviceaccount.com' -ServiceAccountKeyId '3f2a9c6e1b4d8f0a7c5e2d1b9a8f7e6d5c4b3a21' `
    -CertificateThumbprint 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678'
'@
            Remarks = 'The private key stays in the certificate store (it may be non-exportable): PmpMail signs the token request in .NET. -ServiceAccountKeyId is the id the Cloud console shows for the uploaded key.'
        }
        @{
            Title   = 'Send with a client secret from a vault (real tenant)'
            Code    = @'
$secret = Get-Secret -Name PatchMailSecret   # SecureString (Microsoft.PowerShell.SecretManagement)
Send-PmpMail -To 'ops@contoso.com' -Subject 'Patch report' -Body 'All servers patched.' -From 'alerts@contoso.com' `
    -TenantId 'contoso.onmicrosoft.com' -ClientId '0f5c2f8e-1234-4c1d-9d3e-5a6b7c8d9e0f' -ClientSecret $secret
'@
            Remarks = 'Sends one message as alerts@contoso.com. The app registration needs the Mail.Send application permission with admin consent.'
        }
        @{
            Title   = 'Send with the existing app registration''s certificate from the machine store'
            Code    = @'
Send-PmpMail 'ops@contoso.com' 'Nightly job failed' (Get-Content ./job.log -Raw) -From 'alerts@contoso.com' `
    -TenantId $tenantId -ClientId $appId -CertificateThumbprint 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' `
    -Attachments ./job.log -Priority High
'@
            Remarks = 'Uses positions 0-2 like Send-MailMessage. The certificate (for example the one already used for Intune publishing) is found in CurrentUser\My or LocalMachine\My, so this also works in a service running as SYSTEM; its private key is never exported.'
        }
        @{
            Title   = 'One message per CSV row, with a saved profile'
            Code    = @'
Import-Csv ./recipients.csv | Send-PmpMail -From 'alerts@contoso.com' -ProfileName 'contoso-mail' -PassThru |
    Export-Csv ./sent.csv
'@
            Remarks = 'recipients.csv has the columns To, Subject and Body (any other message parameter may be a column too). The rows go out as one batch, 4 at a time per mailbox, each exactly once with one token; a failing row is reported as an error and the others are still sent. sent.csv has one line per row, in input order, with its InputIndex and Status (sent, failed, unknown or cancelled).'
        }
        @{
            Title   = 'Resend only what was not sent'
            Code    = @'
$rows = Import-Csv ./recipients.csv
$results = $rows | Send-PmpMail -From 'alerts@contoso.com' -ProfileName 'contoso-mail' -PassThru -ErrorAction SilentlyContinue
$retry = $results | Where-Object Status -In 'failed', 'cancelled' | ForEach-Object { $rows[$_.InputIndex] }
'@
            Remarks = 'InputIndex is the row''s position in the input. Rows whose Status is unknown are left out on purpose: Graph may have accepted them, so check the mailbox''s Sent Items before sending them again.'
        }
        @{
            Title   = 'HTML with an inline logo, a large attachment and an x- header'
            Code    = @'
$body = '<h1>Monthly report</h1><img src="cid:logo">'
Send-PmpMail -To 'Jürgen Groß <juergen@contoso.com>' -Subject 'Bericht für März ✓' -Body $body -BodyAsHtml `
    -InlineAttachment @{ logo = './logo.png' } -Attachments './report-12MB.xlsx' -Header @{ 'x-report-run' = '2026-03' } `
    -From 'reports@contoso.com' -Connection $contoso
'@
            Remarks = 'The 12 MB file goes through an upload session (the app needs Mail.ReadWrite as well as Mail.Send). Non-ASCII names and text arrive intact.'
        }
        @{
            Title   = 'Try it against the local emulator'
            Code    = @'
# In another terminal: target/debug/pmp-graph-emulator serve --demo --state-dir ./emu
$emu = 'https://127.0.0.1:40123'   # the baseUrl it printed
$secret = ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force
Send-PmpMail -To 'ops@contoso.com' -Subject 'Hello from the emulator' -From 'alerts@contoso.onmicrosoft.com' `
    -TenantId 'contoso.onmicrosoft.com' -ClientId '22222222-2222-2222-2222-222222222222' -ClientSecret $secret `
    -AuthorityHost $emu -GraphRoot $emu -TrustedCaPath ./emu/ca.pem -PassThru -Verbose
'@
            Remarks = 'The emulator plays Entra ID and Graph locally; the message appears in its inbox page at <baseUrl>/_emulator/. -Verbose shows the token request and Graph''s request id.'
        }
        @{
            Title   = 'Preview without sending'
            Code    = 'Import-Csv ./recipients.csv | Send-PmpMail -From ''alerts@contoso.com'' -ProfileName ''contoso-mail'' -WhatIf'
            Remarks = 'Lists each message that would be sent; nothing is sent.'
        }
    )
    Notes       = @(
        'After Ctrl+C a batch''s unsent messages are in $Error (newest first, at most $MaximumErrorCount of them) with the ids above, and the console shows their input indexes; their -PassThru objects cannot be written, because PowerShell refuses output from a stopped command.'
        'Error ids: PmpMail.SendFailed.<GraphCode> (for example ErrorAccessDenied for a missing permission or an application access policy, ErrorInvalidUser for an unknown mailbox), PmpMail.AuthenticationFailed.AADSTS<code>, PmpMail.Throttled, PmpMail.OutcomeUnknown (the connection broke after Graph may have accepted the message: check the Sent Items before resending), PmpMail.AttachmentNotFound, PmpMail.Cancelled (Ctrl+C came before the message''s turn; it was not sent), PmpMail.NoConnection.'
    )
    Links       = @('Test-PmpMailPermission', 'Connect-PmpMail', 'New-PmpMailConnection', 'Register-PmpMailProfile', 'Send-MailMessage')
}
