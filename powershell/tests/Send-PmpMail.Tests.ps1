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
        $result.PossibleDuplicate | Should -BeFalse
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
        Test-PmpMailPermission @sp -Quiet | Should -BeTrue
        Invoke-Emulator 'reset' -Method POST | Out-Null
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
        (Get-EmulatorCounters).tokenRequests | Should -Be 0 -Because 'the app''s token is already in the process (fetched before the counters were reset): 50 rows ask Entra for nothing'
    }

    It 'sends pipeline input as a batch: -PassThru gives one object per record in input order, each message arrived once' {
        $rows = 0..19 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "batch $_"; Body = "row $_" } }
        $errors = $null
        $results = $rows | Send-PmpMail -From $Mailbox @sp -PassThru -ErrorVariable errors
        $errors | Should -BeNullOrEmpty
        @($results).Count | Should -Be 20
        $results.InputIndex | Should -Be (0..19)
        $results.Subject | Should -Be $rows.Subject
        $results | ForEach-Object { $_.Status | Should -BeExactly 'sent' }
        $results | ForEach-Object { $_.ErrorId | Should -BeNullOrEmpty }
        $results[0].PSObject.TypeNames | Should -Contain 'PmpMail.SendResult'
        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 20
        foreach ($result in $results) {
            $m = @($messages | Where-Object subject -EQ $result.Subject)
            $m.Count | Should -Be 1 -Because "$($result.Subject) is sent exactly once"
            $m[0].clientRequestId | Should -Be $result.ClientRequestId
            $m[0].to[0].address | Should -Be $result.To[0]
        }
        (Get-EmulatorCounters).sendMailRequests | Should -Be 20
    }

    It 'reports the one bad record of a batch with the id a single send gives, and sends the others' {
        $single = $null
        Send-PmpMail -To 'not an address' -Subject 'single bad' -From $Mailbox @sp -ErrorAction SilentlyContinue -ErrorVariable single
        $single.Count | Should -Be 1
        $expectedId = $single[0].FullyQualifiedErrorId
        $expectedId | Should -Match '^PmpMail\.'
        Invoke-Emulator 'reset' -Method POST | Out-Null

        $rows = 0..5 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "mixed $_" } }
        $rows[3].To = 'not an address'
        $errors = $null
        $results = $rows | Send-PmpMail -From $Mailbox @sp -PassThru -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be $expectedId
        $errors[0].CategoryInfo.Category | Should -Be $single[0].CategoryInfo.Category
        $errors[0].TargetObject | Should -Be 'To: not an address'
        $results.InputIndex | Should -Be (0..5)
        $results.Status | Should -Be @('sent', 'sent', 'sent', 'failed', 'sent', 'sent')
        $results[3].ErrorId | Should -Be ($expectedId -split ',')[0]
        $sent = (Get-EmulatorMessages).subject | Sort-Object
        $sent | Should -Be @('mixed 0', 'mixed 1', 'mixed 2', 'mixed 4', 'mixed 5')
    }

    It 'reports a record whose attachment is missing when it comes in, and sends the rest of the batch' {
        $rows = @(
            [pscustomobject]@{ To = 'a@contoso.com'; Subject = 'with file'; Attachments = $SmallFile }
            [pscustomobject]@{ To = 'b@contoso.com'; Subject = 'missing file'; Attachments = (Join-Path $Files 'nope.txt') }
            [pscustomobject]@{ To = 'c@contoso.com'; Subject = 'no file' }
        )
        $errors = $null
        $results = $rows | Send-PmpMail -From $Mailbox @sp -PassThru -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'PmpMail.AttachmentNotFound,PmpMail.Commands.SendPmpMailCommand'
        $results.Status | Should -Be @('sent', 'failed', 'sent')
        $results[1].ErrorId | Should -Be 'PmpMail.AttachmentNotFound'
        ((Get-EmulatorMessages).subject | Sort-Object) | Should -Be @('no file', 'with file')
    }

    It '-ThrottleLimit 1 sends one by one in input order' {
        # Half of the sends are held 150 ms: with several in flight the arrival order would change.
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'delay'; delayMs = 150; rate = 0.5 }
        $rows = 0..11 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "ordered $_" } }
        $results = $rows | Send-PmpMail -From $Mailbox @sp -ThrottleLimit 1 -PassThru
        $results.Status | Should -Be (@('sent') * 12)
        (Get-EmulatorMessages).subject | Should -Be $rows.Subject
        $requests = @(Invoke-Emulator 'requests' | Where-Object { $_.path -like '*/sendMail' })
        $requests.Count | Should -Be 12
    }

    It 'shows Write-Progress for a batch: count, rate, a throttled mailbox, and completion' {
        # The first send gets a 429 with Retry-After: 2 (the mailbox pauses); every send takes 100 ms.
        Set-EmulatorFaults @(
            @{ path = 'sendMail'; action = 'status'; status = 429; retryAfterSeconds = 2; count = 1 }
            @{ path = 'sendMail'; action = 'delay'; delayMs = 100 }
        )
        $params = Get-SecretParameters
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript('param($Module, $Params, $Mailbox) Import-Module $Module; 0..9 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "progress $_" } } | Send-PmpMail @Params -From $Mailbox').
                AddArgument((Join-Path $ModulePath 'PmpMail.psd1')).AddArgument($params).AddArgument($Mailbox)
            $null = $ps.Invoke()
            $ps.Streams.Error | Should -BeNullOrEmpty
            $progress = @($ps.Streams.Progress | Where-Object Activity -EQ 'Sending mail')
        }
        finally {
            $ps.Dispose()
        }
        $progress.Count | Should -BeGreaterThan 1
        $running = @($progress | Where-Object RecordType -EQ 'Processing')
        $running | ForEach-Object { $_.StatusDescription | Should -Match '^\d+ of 10 sent.*, rate \d+\.\d/s' }
        @($running | Where-Object StatusDescription -Match 'waiting: Graph throttled their mailbox for \d+ s').Count | Should -BeGreaterThan 0
        $progress[-1].RecordType | Should -Be 'Completed'
        (Get-EmulatorMessages).Count | Should -Be 10
    }

    It 'stops a batch on Ctrl+C (Stop) within about a second, and reports every message that was not sent' {
        # Every sendMail takes 300 ms: 40 messages at 4 in flight take about 3 s.
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'delay'; delayMs = 300 }
        $params = Get-SecretParameters
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript('param($Module, $Params, $Mailbox) Import-Module $Module; 0..39 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "stop $_" } } | Send-PmpMail @Params -From $Mailbox -PassThru').
                AddArgument((Join-Path $ModulePath 'PmpMail.psd1')).AddArgument($params).AddArgument($Mailbox)
            $async = $ps.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while ((Get-EmulatorCounters).sendMailRequests -lt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            Start-Sleep -Milliseconds 1000
            $stopwatch = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            # A hang guard, not a timing claim: without the cancel the batch would run its 3 s to the end.
            $stopwatch.Elapsed.TotalSeconds | Should -BeLessThan 5
            $async.IsCompleted | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $dollarError = @($ps.Runspace.SessionStateProxy.GetVariable('Error'))
        }
        finally {
            $ps.Dispose()
        }
        Start-Sleep -Milliseconds 800
        $counters = Get-EmulatorCounters
        $messages = Get-EmulatorMessages
        $subjects = @($messages.subject)
        ($subjects | Sort-Object -Unique).Count | Should -Be $subjects.Count -Because 'no message arrived twice'
        $subjects.Count | Should -BeLessThan 40 -Because 'the stop came before the end'
        $reported = @($dollarError | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] -and $_.FullyQualifiedErrorId -like 'PmpMail.*,PmpMail.Commands.SendPmpMailCommand' })
        $cancelled = @($reported | Where-Object FullyQualifiedErrorId -EQ 'PmpMail.Cancelled,PmpMail.Commands.SendPmpMailCommand')
        $cancelled.Count | Should -BeGreaterThan 0
        $notSent = @($reported | ForEach-Object { $_.TargetObject -replace '^To: user(\d+)@contoso\.com$', 'stop $1' })
        foreach ($subject in $cancelled | ForEach-Object { $_.TargetObject -replace '^To: user(\d+)@contoso\.com$', 'stop $1' }) {
            $subjects | Should -Not -Contain $subject -Because 'a cancelled message is never sent'
        }
        # Every record is accounted for: it arrived, or its error is in $Error.
        foreach ($i in 0..39) {
            ($subjects -contains "stop $i") -or ($notSent -contains "stop $i") | Should -BeTrue -Because "record $i arrived or was reported"
        }
        $counters.sendMailRequests | Should -Be $counters.messagesAccepted -Because 'no request was abandoned half-way'
        Invoke-Emulator 'drafts' | Should -BeNullOrEmpty -Because 'no draft remains'
        Start-Sleep -Seconds 1
        (Get-EmulatorCounters).sendMailRequests | Should -Be $counters.sendMailRequests -Because 'nothing is sent after the stop'
    }

    It 'reports the collected records as not sent when Ctrl+C comes before the end of the input' {
        $params = Get-SecretParameters
        $ps = [powershell]::Create()
        try {
            # The fifth record never comes: the upstream command sleeps until the stop.
            $null = $ps.AddScript('param($Module, $Params, $Mailbox) Import-Module $Module; 0..9 | ForEach-Object { if ($_ -eq 4) { Start-Sleep -Seconds 60 }; [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "early $_" } } | Send-PmpMail @Params -From $Mailbox').
                AddArgument((Join-Path $ModulePath 'PmpMail.psd1')).AddArgument($params).AddArgument($Mailbox)
            $async = $ps.BeginInvoke()
            Start-Sleep -Seconds 2
            $ps.Stop()
            $async.IsCompleted | Should -BeTrue
            $dollarError = @($ps.Runspace.SessionStateProxy.GetVariable('Error'))
        }
        finally {
            $ps.Dispose()
        }
        $cancelled = @($dollarError | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] -and $_.FullyQualifiedErrorId -eq 'PmpMail.Cancelled,PmpMail.Commands.SendPmpMailCommand' })
        ($cancelled.TargetObject | Sort-Object) | Should -Be @(0..3 | ForEach-Object { "To: user$_@contoso.com" })
        "$($cancelled[0])" | Should -Match 'was not sent'
        Get-EmulatorMessages | Should -BeNullOrEmpty
    }

    It 'takes BodyAsHtml and SaveToSentItems from CSV columns as true/false/1/0/yes/no (Import-Csv gives strings)' {
        $csv = Join-Path $Files 'flags.csv'
        @(
            'To,Subject,Body,BodyAsHtml,SaveToSentItems'
            'a@contoso.com,row true,<b>1</b>,true,false'
            'b@contoso.com,row True,<b>2</b>,True,0'
            'c@contoso.com,row 1,<b>3</b>,1,no'
            'd@contoso.com,row yes,<b>4</b>,YES,False'
            'e@contoso.com,row false,plain 5,false,true'
            'f@contoso.com,row 0,plain 6,0,1'
            'g@contoso.com,row no,plain 7,no,yes'
            'h@contoso.com,row empty,plain 8,,'
        ) | Set-Content -LiteralPath $csv -Encoding utf8NoBOM
        $errors = $null
        Import-Csv -LiteralPath $csv | Send-PmpMail -From $Mailbox @sp -ErrorVariable errors
        $errors | Should -BeNullOrEmpty
        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 8
        $expected = [System.Collections.Generic.Dictionary[string, object[]]]::new([StringComparer]::Ordinal)
        foreach ($subject in 'row true', 'row True', 'row 1', 'row yes') { $expected[$subject] = @('html', $false) }
        foreach ($subject in 'row false', 'row 0', 'row no', 'row empty') { $expected[$subject] = @('text', $true) }
        foreach ($subject in $expected.Keys) {
            $m = @($messages | Where-Object subject -CEQ $subject)
            $m.Count | Should -Be 1 -Because "'$subject' is sent once"
            $m[0].bodyContentType | Should -Be $expected[$subject][0] -Because "the BodyAsHtml column of '$subject'"
            $m[0].saveToSentItems | Should -Be $expected[$subject][1] -Because "the SaveToSentItems column of '$subject'"
        }
    }

    It 'refuses a CSV boolean that is not true/false/1/0/yes/no with a clear error and sends that row not at all' {
        $csv = Join-Path $Files 'bad-flags.csv'
        @(
            'To,Subject,BodyAsHtml,SaveToSentItems'
            'a@contoso.com,bad html,maybe,true'
            'b@contoso.com,bad save,true,sometimes'
            'c@contoso.com,good,false,true'
        ) | Set-Content -LiteralPath $csv -Encoding utf8NoBOM
        $errors = $null
        Import-Csv -LiteralPath $csv | Send-PmpMail -From $Mailbox @sp -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 2
        "$($errors[0])" | Should -Match "'maybe'"
        "$($errors[0])" | Should -Match 'true/false, 1/0 or yes/no'
        "$($errors[1])" | Should -Match "'sometimes'"
        (Get-EmulatorMessages).subject | Should -Be 'good'
    }

    It 'warns that -SaveToSentItems $false cannot be honoured when a large attachment takes the draft path' {
        $warnings = $null
        $result = Send-PmpMail -To 'ops@contoso.com' -Subject 'draft no save' -From $Mailbox @sp -Attachments $LargeFile -SaveToSentItems $false `
            -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
        $result.UploadSession | Should -BeTrue
        @($warnings).Count | Should -Be 1
        "$($warnings[0])" | Should -Match 'SaveToSentItems'
        "$($warnings[0])" | Should -Match 'Sent Items'
        "$($warnings[0])" | Should -Match 'draft'
        (Get-EmulatorMessages).subject | Should -Be 'draft no save'
        # No warning for the same message sent with sendMail, nor for the draft path with the default.
        $quiet = $null
        Send-PmpMail -To 'ops@contoso.com' -Subject 'small no save' -From $Mailbox @sp -Attachments $SmallFile -SaveToSentItems $false -WarningVariable quiet
        Send-PmpMail -To 'ops@contoso.com' -Subject 'draft default' -From $Mailbox @sp -Attachments $LargeFile -WarningVariable +quiet
        $quiet | Should -BeNullOrEmpty
    }

    It 'refuses an ECDSA certificate when connecting, naming the RSA requirement, and asks for no token' {
        $ecdsa = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=pmp-mail ecdsa', $ecdsa, [System.Security.Cryptography.HashAlgorithmName]::SHA256)
        $ecCert = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddDays(-1), [DateTimeOffset]::UtcNow.AddDays(30))
        $pfx = Join-Path $Files 'ecdsa.pfx'
        [IO.File]::WriteAllBytes($pfx, $ecCert.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pfx, 'pw'))
        $ep = Get-EndpointParameters
        $password = ConvertTo-SecureString 'pw' -AsPlainText -Force
        foreach ($credential in @(@{ Certificate = $ecCert }, @{ CertificatePath = $pfx; CertificatePassword = $password })) {
            $err = $null
            try { Send-PmpMail -To 'ops@contoso.com' -Subject 'ecdsa' -From $Mailbox -TenantId $TenantId -ClientId $AppFull @credential @ep }
            catch { $err = $_ }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -Be 'PmpMail.CredentialInvalid,PmpMail.Commands.SendPmpMailCommand'
            $err.Exception.Remedy | Should -Be 'Entra ID client assertions need an RSA key; create an RSA certificate (2048-bit or more).'
            "$err" | Should -Match 'ECDSA'
            "$err" | Should -Not -Match 'signer callback'
        }
        (Get-EmulatorCounters).tokenRequests | Should -Be 0
        Get-EmulatorMessages | Should -BeNullOrEmpty
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
        # -ThrottleLimit 1: one by one, so the second request is the second row's.
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'dropAfterAccept'; skip = 1; count = 1 }
        $rows = 1..3 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "pipeline $_" } }
        $errors = $null
        $results = $rows | Send-PmpMail -From $Mailbox @sp -ThrottleLimit 1 -PassThru -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'PmpMail.OutcomeUnknown,PmpMail.Commands.SendPmpMailCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $errors[0].TargetObject | Should -Be 'To: user2@contoso.com'
        @($results).Count | Should -Be 3 -Because '-PassThru gives one object per input record'
        $results.Subject | Should -Be @('pipeline 1', 'pipeline 2', 'pipeline 3')
        $results.Status | Should -Be @('sent', 'unknown', 'sent')
        $results[1].ErrorId | Should -Be 'PmpMail.OutcomeUnknown'
        $results[1].ClientRequestId | Should -Be $errors[0].Exception.Detail.ClientRequestId
        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 3 -Because 'the first and third were sent, and the second was accepted before its answer was lost'
        foreach ($i in 1..3) {
            @($messages | Where-Object subject -EQ "pipeline $i").Count | Should -Be 1
        }
        ($messages | Where-Object subject -EQ 'pipeline 2').clientRequestId | Should -Be $errors[0].Exception.Detail.ClientRequestId
        (Get-EmulatorCounters).sendMailRequests | Should -Be 3
    }

    It '-ErrorAction Stop ends a pipeline batch at its first failed message: the messages after it are not sent, and are in $Error as cancelled' {
        # The second sendMail is refused (400, nothing sent); -ThrottleLimit 1 sends one by one, so rows 3-5 have not started.
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'status'; status = 400; graphCode = 'ErrorInvalidRecipients'; skip = 1; count = 1 }
        $rows = 1..5 | ForEach-Object { [pscustomobject]@{ To = "user$_@contoso.com"; Subject = "stop $_" } }
        $Error.Clear()
        $thrown = $null
        try { $rows | Send-PmpMail -From $Mailbox @sp -ThrottleLimit 1 -ErrorAction Stop } catch { $thrown = $_ }
        $thrown | Should -Not -BeNullOrEmpty -Because '-ErrorAction Stop makes the first failure terminating'
        $thrown.FullyQualifiedErrorId | Should -Be 'PmpMail.SendFailed.ErrorInvalidRecipients,PmpMail.Commands.SendPmpMailCommand'
        $thrown.TargetObject | Should -Be 'To: user2@contoso.com'
        (Get-EmulatorMessages).subject | Should -Be @('stop 1') -Because 'nothing after the failure may be sent'
        (Get-EmulatorCounters).sendMailRequests | Should -Be 2
        $cancelled = @($Error | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] -and $_.FullyQualifiedErrorId -like 'PmpMail.Cancelled,*' })
        ($cancelled.TargetObject | Sort-Object) | Should -Be @('To: user3@contoso.com', 'To: user4@contoso.com', 'To: user5@contoso.com')

        # $ErrorActionPreference = 'Stop' without -ErrorAction does the same.
        Invoke-Emulator 'reset' -Method POST | Out-Null
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'status'; status = 400; graphCode = 'ErrorInvalidRecipients'; skip = 1; count = 1 }
        $thrown = $null
        try { & { $ErrorActionPreference = 'Stop'; $rows | Send-PmpMail -From $Mailbox @sp -ThrottleLimit 1 } } catch { $thrown = $_ }
        $thrown.FullyQualifiedErrorId | Should -Be 'PmpMail.SendFailed.ErrorInvalidRecipients,PmpMail.Commands.SendPmpMailCommand'
        (Get-EmulatorMessages).subject | Should -Be @('stop 1')

        # Without -ErrorAction Stop the batch goes on past a failure (nothing was cancelled).
        Invoke-Emulator 'reset' -Method POST | Out-Null
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'status'; status = 400; graphCode = 'ErrorInvalidRecipients'; skip = 1; count = 1 }
        $results = $rows | Send-PmpMail -From $Mailbox @sp -ThrottleLimit 1 -PassThru -ErrorAction SilentlyContinue
        $results.Status | Should -Be @('sent', 'failed', 'sent', 'sent', 'sent')
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

    It 'shows a long wait on a throttled token endpoint as a warning while it runs, and keeps short waits quiet' {
        # Entra ID answers 429 with Retry-After; pmp-mail waits that long before asking again.
        Set-EmulatorFaults @{ path = 'token'; action = 'status'; status = 429; retryAfterSeconds = 3; count = 1 }
        $warnings = [System.Collections.Generic.List[object]]::new()
        $started = [DateTime]::UtcNow
        $seen = @()
        # Each record is seen as it is written: the warning must come while the send is still waiting.
        # A secret of its own: the shared token of $sp would leave no token request to throttle.
        $own = Get-SecretParameters -Secret $IsolatedSecrets[0]
        Send-PmpMail -To 'ops@contoso.com' -Subject 'token throttled' -From $Mailbox @own -PassThru -WarningAction Continue 3>&1 |
            ForEach-Object { $seen += [pscustomobject]@{ Record = $_; At = [DateTime]::UtcNow } }
        $done = [DateTime]::UtcNow
        $warning = @($seen | Where-Object { $_.Record -is [System.Management.Automation.WarningRecord] })
        $warning.Count | Should -Be 1
        $warning[0].Record.Message | Should -Match 'Waiting 3 s before retrying'
        $warning[0].Record.Message | Should -Match 'HTTP 429'
        $warning[0].Record.Message | Should -Match 'Ctrl\+C'
        ($done - $warning[0].At).TotalSeconds | Should -BeGreaterThan 1.5 -Because 'the warning is shown when the wait starts, not after the send'
        ($seen | Where-Object { $_.Record -is [PmpMail.SendResult] }).Record.Status | Should -Be 'sent'
        (Get-EmulatorMessages).subject | Should -Be 'token throttled'

        Invoke-Emulator 'reset' -Method POST | Out-Null
        Set-EmulatorFaults @{ path = 'token'; action = 'status'; status = 429; retryAfterSeconds = 1; count = 1 }
        $quiet = $null
        Send-PmpMail -To 'ops@contoso.com' -Subject 'short wait' -From $Mailbox @sp -WarningVariable quiet
        $quiet | Should -BeNullOrEmpty -Because 'a wait of a second is shown only with -Verbose'
        (Get-EmulatorMessages).subject | Should -Be 'short wait'
    }

    It 'stops a long retry wait on Ctrl+C (Stop), well before the Retry-After, and sends nothing then or later' {
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'status'; status = 429; retryAfterSeconds = 30; count = 10 }
        $params = Get-SecretParameters
        $params.To = 'ops@contoso.com'; $params.Subject = 'stopped'; $params.From = $Mailbox; $params.MaxRetryWaitSeconds = 120
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript('param($Module, $Params) Import-Module $Module; Send-PmpMail @Params').
                AddArgument((Join-Path $ModulePath 'PmpMail.psd1')).AddArgument($params)
            $async = $ps.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while ((Get-EmulatorCounters).sendMailRequests -lt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            (Get-EmulatorCounters).sendMailRequests | Should -Be 1 -Because 'the first attempt got its 429'
            Start-Sleep -Seconds 1
            $stopwatch = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            # A hang guard, not a timing claim: without a cancel the wait would last 30 s.
            $stopwatch.Elapsed.TotalSeconds | Should -BeLessThan 10
            $async.IsCompleted | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        }
        finally {
            $ps.Dispose()
        }
        Get-EmulatorMessages | Should -BeNullOrEmpty
        Start-Sleep -Seconds 3
        (Get-EmulatorCounters).sendMailRequests | Should -Be 1 -Because 'nothing is sent after the stop'
        Get-EmulatorMessages | Should -BeNullOrEmpty
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
        # A secret of its own, so that this send makes the token request whose steps -Verbose shows.
        $own = Get-SecretParameters -Secret $IsolatedSecrets[1]
        $all = Send-PmpMail -To 'ops@contoso.com' -Subject 'secret verbose' -From $Mailbox @own -PassThru -Verbose *>&1
        $text = ConvertTo-StreamText $all
        $text | Should -Match 'token' -Because 'the verbose steps were captured'
        $text | Should -Match 'secret verbose' -Because 'the -PassThru result was captured'
        foreach ($secret in $GoodSecret, $IsolatedSecrets[1]) {
            $text | Should -Not -Match ([regex]::Escape($secret))
            $text | Should -Not -Match ([regex]::Escape([uri]::EscapeDataString($secret)))
        }
        $text | Should -Not -CMatch 'eyJ'
        (Get-EmulatorMessages).subject | Should -Be 'secret verbose'
    }
}
