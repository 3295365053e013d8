# Send-PmpMail against the emulator: -WhatIf, pipelines, attachments byte for byte, non-ASCII, error ids,
# lost answers and throttling (fault plans), and what -Verbose shows.
Describe 'Send-PmpMail' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Cert = New-TestCertificate -Subject 'CN=pmp-mail send test'
        $script:Emulator = Start-TestEmulator -Directory (Get-TestDirectory -CertificatePem $Cert.ExportCertificatePem())
        $script:sp = Get-SecretParameters
        $script:Files = Join-Path $Emulator.StateDir 'files'
        New-Item -ItemType Directory -Path $Files | Out-Null
        $rng = [Random]::new(42)
        function New-RandomFile([string] $Name, [int] $Size) {
            $bytes = [byte[]]::new($Size); $rng.NextBytes($bytes)
            $path = Join-Path $Files $Name
            [IO.File]::WriteAllBytes($path, $bytes)
            $path
        }
        $script:SmallFile = New-RandomFile 'small.bin' 1500
        $script:LargeFile = New-RandomFile 'large.bin' (3 * 1024 * 1024 + 12345)
        $script:NonAsciiFile = New-RandomFile 'Bericht-Übersicht-日本.csv' 2048
        # A tiny valid PNG for the inline image.
        $script:LogoFile = Join-Path $Files 'logo.png'
        [IO.File]::WriteAllBytes($LogoFile, [Convert]::FromBase64String('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='))
    }
    AfterAll {
        Stop-TestEmulator $script:Emulator
    }
    BeforeEach {
        Invoke-Emulator 'reset' -Method POST | Out-Null
    }

    It 'sends one message and returns the result with -PassThru' {
        $result = Send-PmpMail -To 'ops@contoso.com' -Subject 'hello' -Body 'text body' -From $Mailbox @sp -PassThru
        $result.Status | Should -Be 'sent'
        $result.Attempts | Should -BeGreaterOrEqual 1
        $result.RequestId | Should -Not -BeNullOrEmpty
        $result.ClientRequestId | Should -Not -BeNullOrEmpty
        $result.UploadSession | Should -BeFalse
        $result.PSObject.TypeNames | Should -Contain 'PmpMail.SendResult'
        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 1
        $messages[0].subject | Should -Be 'hello'
        $messages[0].bodyContentType | Should -Be 'text'
        $messages[0].clientRequestId | Should -Be $result.ClientRequestId
    }

    It 'binds To, Subject and Body by position like Send-MailMessage, with Cc/Bcc/ReplyTo/Priority/headers' {
        Send-PmpMail 'a@contoso.com', 'b@contoso.com' 'positional' '<b>html</b>' -From $Mailbox -Cc 'c@contoso.com' -Bcc 'd@contoso.com' `
            -ReplyTo 'r@contoso.com' -Priority High -BodyAsHtml -SaveToSentItems $false -Header @{ 'x-run-id' = '42' } -Encoding ([Text.Encoding]::ASCII) @sp
        $m = (Get-EmulatorMessages)[0]
        # ForEach-Object, not .address: arrays have an Address() method that hides member enumeration.
        ($m.to | ForEach-Object address) | Should -Be @('a@contoso.com', 'b@contoso.com')
        ($m.cc | ForEach-Object address) | Should -Be 'c@contoso.com'
        ($m.bcc | ForEach-Object address) | Should -Be 'd@contoso.com'
        ($m.replyTo | ForEach-Object address) | Should -Be 'r@contoso.com'
        $m.importance | Should -Be 'high'
        $m.bodyContentType | Should -Be 'html'
        $m.saveToSentItems | Should -BeFalse
        ($m.headers | Where-Object name -EQ 'x-run-id').value | Should -Be '42'
    }

    It '-WhatIf sends nothing' {
        $before = Get-EmulatorCounters
        Send-PmpMail -To 'ops@contoso.com' -Subject 'what if' -From $Mailbox @sp -WhatIf
        $after = Get-EmulatorCounters
        $after.sendMailRequests | Should -Be $before.sendMailRequests
        $after.messagesAccepted | Should -Be $before.messagesAccepted
        Get-EmulatorMessages | Should -BeNullOrEmpty
    }

    It 'sends one message per CSV row: 50 rows, 50 messages, each exactly once' {
        $csv = Join-Path $Files 'list.csv'
        1..50 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "Row $_"; Body = "Body of row $_" } } |
            Export-Csv -LiteralPath $csv -NoTypeInformation
        Import-Csv -LiteralPath $csv | Send-PmpMail -From $Mailbox @sp
        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 50
        ($messages.subject | Sort-Object -Unique).Count | Should -Be 50
        foreach ($i in 1..50) {
            $m = @($messages | Where-Object subject -EQ "Row $i")
            $m.Count | Should -Be 1
            $m[0].to[0].address | Should -Be "user$i@contoso.com"
            $m[0].attachments | Should -BeNullOrEmpty
        }
        (Get-EmulatorCounters).tokenRequests | Should -Be 1 -Because 'one client per pipeline shares its token'
    }

    It 'delivers attachments byte-exact: small, >= 3 MB (upload session), non-ASCII name, inline image' {
        $html = '<p>Report</p><img src="cid:logo">'
        $result = Send-PmpMail -To 'ops@contoso.com' -Subject 'attachments' -Body $html -BodyAsHtml -From $Mailbox @sp -PassThru `
            -Attachments $SmallFile, $LargeFile, $NonAsciiFile -InlineAttachment @{ logo = $LogoFile }
        $result.UploadSession | Should -BeTrue
        $m = (Get-EmulatorMessages)[0]
        $m.attachments.Count | Should -Be 4
        foreach ($file in $SmallFile, $LargeFile, $NonAsciiFile, $LogoFile) {
            $name = Split-Path $file -Leaf
            $a = $m.attachments | Where-Object name -EQ $name
            $a | Should -Not -BeNullOrEmpty -Because "$name must arrive"
            $a.sha256 | Should -Be (Get-Sha256Hex ([IO.File]::ReadAllBytes($file)))
            $a.size | Should -Be (Get-Item -LiteralPath $file).Length
        }
        $logo = $m.attachments | Where-Object name -EQ 'logo.png'
        $logo.isInline | Should -BeTrue
        $logo.contentId | Should -Be 'logo'
    }

    It 'resolves relative attachment paths against the PowerShell location and takes paths from the pipeline' {
        Push-Location $Files
        try {
            './small.bin' | Send-PmpMail -To 'ops@contoso.com' -Subject 'relative' -From $Mailbox @sp
        }
        finally { Pop-Location }
        $m = (Get-EmulatorMessages)[0]
        $m.attachments[0].name | Should -Be 'small.bin'
        $m.attachments[0].sha256 | Should -Be (Get-Sha256Hex ([IO.File]::ReadAllBytes($SmallFile)))
    }

    It 'writes an error and sends nothing when an attachment is missing' {
        $errors = $null
        Send-PmpMail -To 'ops@contoso.com' -Subject 'missing file' -From $Mailbox -Attachments (Join-Path $Files 'nope.txt') @sp -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'PmpMail.AttachmentNotFound,PmpMail.Commands.SendPmpMailCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        (Get-EmulatorCounters).sendMailRequests | Should -Be 0
    }

    It 'keeps non-ASCII subject, body, display names and file names intact' {
        $subject = 'Statusbericht: Größe ✓ — 日本語 ñ'
        $body = "Grüße aus Zürich 🚀`nZeile 2: ÄÖÜ éàç"
        Send-PmpMail -To 'Jürgen Groß <juergen@contoso.com>' -Subject $subject -Body $body -From $Mailbox -Attachments $NonAsciiFile @sp
        $m = (Get-EmulatorMessages)[0]
        $m.subject | Should -BeExactly $subject
        $m.body | Should -BeExactly $body
        $m.to[0].name | Should -BeExactly 'Jürgen Groß'
        $m.to[0].address | Should -Be 'juergen@contoso.com'
        $m.attachments[0].name | Should -BeExactly 'Bericht-Übersicht-日本.csv'
    }

    It 'reports <Case> as <ErrorId> and continues the pipeline' -TestCases @(
        @{ Case = '403 (access policy excludes the app)'; From = 'restricted@contoso.onmicrosoft.com'; ErrorId = 'PmpMail.SendFailed.ErrorAccessDenied'; Category = 'PermissionDenied' }
        @{ Case = '404 (no such mailbox)'; From = 'ghost@contoso.onmicrosoft.com'; ErrorId = 'PmpMail.SendFailed.ErrorInvalidUser'; Category = 'ObjectNotFound' }
    ) {
        $errors = $null
        $rows = @(
            [pscustomobject]@{ To = 'x@contoso.com'; Subject = 'bad'; From = $From }
            [pscustomobject]@{ To = 'y@contoso.com'; Subject = 'good'; From = $Mailbox }
        )
        $rows | Send-PmpMail @sp -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be "$ErrorId,PmpMail.Commands.SendPmpMailCommand"
        $errors[0].CategoryInfo.Category | Should -Be $Category
        $errors[0].Exception.Detail.RequestId | Should -Not -BeNullOrEmpty
        $errors[0].Exception.Remedy | Should -Not -BeNullOrEmpty
        $errors[0].ToString() | Should -Match 'Remedy: '
        (Get-EmulatorMessages).subject | Should -Be 'good'
    }

    It 'reports an authentication failure with the AADSTS id' {
        $bad = Get-SecretParameters -Secret 'wrong-secret'
        $errors = $null
        Send-PmpMail -To 'ops@contoso.com' -Subject 'x' -From $Mailbox @bad -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors[0].FullyQualifiedErrorId | Should -Be 'PmpMail.AuthenticationFailed.AADSTS7000215,PmpMail.Commands.SendPmpMailCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
        Get-EmulatorMessages | Should -BeNullOrEmpty
    }

    It 'reports an answer lost after Graph accepted the message as PmpMail.OutcomeUnknown and does not resend it' {
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'dropAfterAccept'; count = 1 }
        $errors = $null
        Send-PmpMail -To 'ops@contoso.com' -Subject 'lost answer' -From $Mailbox @sp -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'PmpMail.OutcomeUnknown,PmpMail.Commands.SendPmpMailCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $errors[0].Exception | Should -BeOfType ([PmpMail.Interop.PmpMailOutcomeUnknownException])
        $errors[0].Exception.Detail.Outcome | Should -Be 'unknown'
        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 1 -Because 'Graph accepted it once and it must not be sent again'
        $messages[0].subject | Should -Be 'lost answer'
        $messages[0].clientRequestId | Should -Be $errors[0].Exception.Detail.ClientRequestId
        (Get-EmulatorCounters).sendMailRequests | Should -Be 1
    }

    It 'writes one non-terminating PmpMail.OutcomeUnknown for the message whose answer was lost and continues the pipeline' {
        # Only the second sendMail loses its answer (after the emulator accepted and recorded it).
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'dropAfterAccept'; skip = 1; count = 1 }
        $rows = 1..3 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "pipeline $_" } }
        $errors = $null
        $results = $rows | Send-PmpMail -From $Mailbox @sp -PassThru -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'PmpMail.OutcomeUnknown,PmpMail.Commands.SendPmpMailCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $errors[0].TargetObject | Should -Be 'To: user2@contoso.com'
        @($results).Count | Should -Be 2
        $results.Subject | Should -Be @('pipeline 1', 'pipeline 3')
        $results.Status | Should -Be @('sent', 'sent')
        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 3 -Because 'the first and third were sent, and the second was accepted before its answer was lost'
        foreach ($i in 1..3) {
            @($messages | Where-Object subject -EQ "pipeline $i").Count | Should -Be 1
        }
        ($messages | Where-Object subject -EQ 'pipeline 2').clientRequestId | Should -Be $errors[0].Exception.Detail.ClientRequestId
        (Get-EmulatorCounters).sendMailRequests | Should -Be 3
    }

    It 'reports 429 beyond the retry budget as PmpMail.Throttled, sends nothing and keeps the secret out of every stream' {
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'status'; status = 429; retryAfterSeconds = 1; count = 10 }
        $errors = $null
        $all = Send-PmpMail -To 'ops@contoso.com' -Subject 'throttled' -From $Mailbox @sp -Verbose -ErrorAction Continue -ErrorVariable errors *>&1
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'PmpMail.Throttled,PmpMail.Commands.SendPmpMailCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'
        $errors[0].Exception.Detail.HttpStatus | Should -Be 429
        $errors[0].Exception.RetryAfter | Should -Be ([TimeSpan]::FromSeconds(1))
        $attempts = $errors[0].Exception.Detail.Attempts
        $attempts | Should -BeGreaterThan 1 -Because '429 with Retry-After is retried within the budget'
        $counters = Get-EmulatorCounters
        $counters.sendMailRequests | Should -Be $attempts
        $counters.messagesAccepted | Should -Be 0
        Get-EmulatorMessages | Should -BeNullOrEmpty
        $text = ConvertTo-StreamText $all
        @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }).Count | Should -Be 1 -Because 'the error went to the captured stream'
        $text | Should -Match 'Retry|retry' -Because 'the verbose steps were captured'
        $text | Should -Not -Match ([regex]::Escape($GoodSecret))
        $text | Should -Not -Match ([regex]::Escape([uri]::EscapeDataString($GoodSecret)))
    }

    It 'sends with a certificate (signer) and shows the steps with -Verbose, without the assertion, the token or the key' {
        $ep = Get-EndpointParameters
        $all = Send-PmpMail -To 'ops@contoso.com' -Subject 'cert' -From $Mailbox -TenantId $TenantId -ClientId $AppFull -Certificate $Cert @ep -PassThru -Verbose *>&1
        $text = ConvertTo-StreamText $all
        $text | Should -Match 'token'
        $text | Should -Match 'Signing client assertions'
        # Client assertions and access tokens are JWTs: base64url of '{"' starts every one of them.
        $text | Should -Not -CMatch 'eyJ'
        $text | Should -Not -CMatch '-----BEGIN [A-Z ]*PRIVATE KEY-----'
        # A dump of the key (PKCS#8 or PKCS#1, PEM or bare base64) ends with the base64 of its private CRT coefficient.
        $rsa = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($Cert)
        $compact = $text -replace '\s', ''
        foreach ($der in $rsa.ExportPkcs8PrivateKey(), $rsa.ExportRSAPrivateKey()) {
            $tail = [Convert]::ToBase64String($der) -replace '=+$', ''
            $compact | Should -Not -Match ([regex]::Escape($tail.Substring($tail.Length - 64)))
        }
        (Get-EmulatorMessages).subject | Should -Be 'cert'
    }

    It 'sends with a client secret and -Verbose without the secret or the token on any stream' {
        $all = Send-PmpMail -To 'ops@contoso.com' -Subject 'secret verbose' -From $Mailbox @sp -PassThru -Verbose *>&1
        $text = ConvertTo-StreamText $all
        $text | Should -Match 'token' -Because 'the verbose steps were captured'
        $text | Should -Match 'secret verbose' -Because 'the -PassThru result was captured'
        $text | Should -Not -Match ([regex]::Escape($GoodSecret))
        $text | Should -Not -Match ([regex]::Escape([uri]::EscapeDataString($GoodSecret)))
        $text | Should -Not -CMatch 'eyJ'
        (Get-EmulatorMessages).subject | Should -Be 'secret verbose'
    }
}
