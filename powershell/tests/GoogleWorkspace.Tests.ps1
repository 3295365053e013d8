# Google Workspace through the cmdlets: a service account key (file or SecureString), domain-wide
# delegation granted and missing, attachments byte-exact (raw and resumable), non-ASCII, throttling,
# a lost answer, one token per user under concurrency, and the key never in any output.
Describe 'Google Workspace' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:GoogleProject = 'pmp-pester'
        $script:GoogleAccount = 'sender@pmp-pester.iam.gserviceaccount.com'
        $script:GoogleClientId = '118000000000000000021'
        $script:UndelegatedAccount = 'stranger@pmp-pester.iam.gserviceaccount.com'
        $script:UndelegatedClientId = '118000000000000000022'
        $script:GoogleUser = 'alerts@pester.example'
        # A second user: tokens are per user, so the concurrency test sends as both.
        $script:GoogleUserB = 'reports@pester.example'
        $directory = Get-TestDirectory
        $directory.google = @{
            projects        = @(@{ id = $GoogleProject })
            serviceAccounts = @(
                @{ project = $GoogleProject; clientEmail = $GoogleAccount; clientId = $GoogleClientId }
                @{ project = $GoogleProject; clientEmail = $UndelegatedAccount; clientId = $UndelegatedClientId }
            )
            domains         = @(@{
                    name        = 'pester.example'
                    users       = @(@{ address = $GoogleUser }, @{ address = $GoogleUserB })
                    delegations = @(@{ clientId = $GoogleClientId; scopes = @('https://www.googleapis.com/auth/gmail.send') })
                })
        }
        $script:Emulator = Start-TestEmulator -Directory $directory

        function New-GoogleKey([string] $ClientEmail) {
            # The answer is the key file's text; Invoke-Emulator would parse it, so the key is written back as JSON.
            Invoke-Emulator 'google/keys' -Method POST -Body @{ clientEmail = $ClientEmail } | ConvertTo-Json -Depth 5
        }
        $script:KeyText = New-GoogleKey $GoogleAccount
        $script:KeyPath = Join-Path $Emulator.StateDir 'sa.json'
        Set-Content -LiteralPath $KeyPath -Value $KeyText -Encoding utf8NoBOM
        $script:UndelegatedKeyPath = Join-Path $Emulator.StateDir 'stranger.json'
        Set-Content -LiteralPath $UndelegatedKeyPath -Value (New-GoogleKey $UndelegatedAccount) -Encoding utf8NoBOM
        # A line from the middle of the PEM body: what a leak would show.
        $script:KeySecretPart = (($KeyText | ConvertFrom-Json).private_key -split "`n")[5]
        $script:gp = @{ GoogleTokenUri = "$($Emulator.BaseUrl)/token"; GmailRoot = $Emulator.BaseUrl; TrustedCaPath = $Emulator.CaPath }

        # Tokens Google's token endpoint issued to the service account for one user (the emulator is shared: compare).
        function Get-GoogleTokensIssued([string] $Subject) {
            $issued = 0
            foreach ($entry in @(Invoke-Emulator 'google/tokens')) { if ($entry.serviceAccount -eq $GoogleAccount -and $entry.subject -eq $Subject) { $issued += $entry.issued } }
            $issued
        }
        # Gmail send requests in the request log: a connection dropped by a fault is not in it, a resend would be.
        function Get-GmailSendRequestCount { @(Invoke-Emulator 'requests' | Where-Object path -Like '*/messages/send').Count }
        function Assert-NoKey([string] $Text) {
            $Text | Should -Not -MatchExactly 'PRIVATE KEY'
            $Text.Contains($KeySecretPart) | Should -BeFalse
            $Text | Should -Not -Match 'ya29\.'
        }
    }
    AfterAll {
        Disconnect-PmpMail -ErrorAction SilentlyContinue
        Stop-TestEmulator $script:Emulator
    }

    It 'sends through Gmail with -ServiceAccountKeyPath (-Impersonate defaults to -From)' {
        $attachment = Join-Path $Emulator.StateDir 'report.bin'
        $bytes = [byte[]](1..255) * 40
        [IO.File]::WriteAllBytes($attachment, $bytes)
        $subject = "Gmail from Pester $([guid]::NewGuid().ToString('n'))"
        Send-PmpMail -ServiceAccountKeyPath $KeyPath @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'über Gmail' -Attachments $attachment
        $recorded = Get-EmulatorMessages | Where-Object subject -EQ $subject
        $recorded | Should -HaveCount 1
        $recorded.provider | Should -Be 'gmail'
        $recorded.mailbox | Should -Be $GoogleUser
        $recorded.attachments[0].sha256 | Should -Be (Get-Sha256Hex $bytes)
    }

    It 'sends with -ServiceAccountKey (SecureString of the JSON) and -Impersonate' {
        $secure = ConvertTo-SecureString $KeyText -AsPlainText -Force
        $subject = "Gmail with a SecureString key $([guid]::NewGuid().ToString('n'))"
        Send-PmpMail -ServiceAccountKey $secure -Impersonate $GoogleUser @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'vault'
        (Get-EmulatorMessages | Where-Object subject -EQ $subject).provider | Should -Be 'gmail'
    }

    It 'Test-PmpMailPermission reports gmail.send Granted' {
        $result = Test-PmpMailPermission -ServiceAccountKeyPath $KeyPath -Impersonate $GoogleUser @gp
        ($result | Where-Object Permission -EQ 'gmail.send').Status | Should -Be 'Granted'
        ($result | Where-Object Permission -EQ 'gmail.send').AppId | Should -Be $GoogleClientId
        Test-PmpMailPermission -ServiceAccountKeyPath $KeyPath -Impersonate $GoogleUser @gp -Quiet | Should -BeTrue
    }

    It 'Test-PmpMailPermission reports gmail.send Missing with the Admin console remedy when delegation is not granted' {
        $result = Test-PmpMailPermission -ServiceAccountKeyPath $UndelegatedKeyPath -Impersonate $GoogleUser @gp -ErrorVariable failures -ErrorAction SilentlyContinue
        $missing = $result | Where-Object Permission -EQ 'gmail.send'
        $missing.Status | Should -Be 'Missing'
        ($missing.Warnings -join ' ') | Should -Match 'Domain-wide delegation'
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'PmpMail.TestFailed.*,PmpMail.Commands.TestPmpMailPermissionCommand'
        "$($failures[0])" | Should -Match 'Admin console'
        "$($failures[0])" | Should -Match $UndelegatedClientId
        Test-PmpMailPermission -ServiceAccountKeyPath $UndelegatedKeyPath -Impersonate $GoogleUser @gp -Quiet | Should -BeFalse
    }

    It 'asks for -Impersonate when Test-PmpMailPermission has no user to test' {
        { Test-PmpMailPermission -ServiceAccountKeyPath $KeyPath @gp } | Should -Throw -ErrorId 'PmpMail.ImpersonateRequired,PmpMail.Commands.TestPmpMailPermissionCommand'
    }

    It 'refuses Entra-only parameters with a Google key' {
        { Test-PmpMailPermission -ServiceAccountKeyPath $KeyPath -Impersonate $GoogleUser @gp -GraphRoot $Emulator.BaseUrl } |
            Should -Throw -ErrorId 'PmpMail.GoogleParameterConflict*'
    }

    It 'Connect-PmpMail validates the delegation and the session sends through Gmail' {
        $connection = Connect-PmpMail -ServiceAccountKeyPath $KeyPath -Impersonate $GoogleUser @gp -PassThru
        $connection.Provider | Should -Be 'GoogleWorkspace'
        $connection.ServiceAccountKeyPath | Should -Be $KeyPath
        "$connection" | Should -Match 'Google Workspace'
        try {
            $subject = "Gmail through the session $([guid]::NewGuid().ToString('n'))"
            Send-PmpMail -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'session'
            (Get-EmulatorMessages | Where-Object subject -EQ $subject).provider | Should -Be 'gmail'
            (Test-PmpMailPermission | Where-Object Permission -EQ 'gmail.send').Status | Should -Be 'Granted'
        }
        finally { Disconnect-PmpMail }
        { Connect-PmpMail -ServiceAccountKeyPath $UndelegatedKeyPath -Impersonate $GoogleUser @gp } | Should -Throw -ErrorId 'PmpMail.ConnectFailed.*'
    }

    It 'saves a profile with the key file''s path only, sends with -ProfileName, and refuses to save -ServiceAccountKey' {
        $saved = $env:PMP_MAIL_PROFILE_DIR
        $env:PMP_MAIL_PROFILE_DIR = Join-Path $Emulator.StateDir 'profiles'
        try {
            $registered = Register-PmpMailProfile -Name 'gmail' -ServiceAccountKeyPath $KeyPath -Impersonate $GoogleUser @gp -PassThru
            $registered.CredentialType | Should -Be 'GoogleServiceAccountKeyPath'
            $registered.ServiceAccountKeyPath | Should -Be $KeyPath
            $file = Get-Content -Raw $registered.Path
            $file | Should -Not -Match 'PRIVATE KEY'
            $file.Contains($KeySecretPart) | Should -BeFalse
            $subject = "Gmail through a profile $([guid]::NewGuid().ToString('n'))"
            Send-PmpMail -ProfileName 'gmail' -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'profile'
            (Get-EmulatorMessages | Where-Object subject -EQ $subject).provider | Should -Be 'gmail'
            (Test-PmpMailPermission -ProfileName 'gmail' | Where-Object Permission -EQ 'gmail.send').Status | Should -Be 'Granted'
            $secure = ConvertTo-SecureString $KeyText -AsPlainText -Force
            { Register-PmpMailProfile -Name 'gmail-key' -ServiceAccountKey $secure @gp } |
                Should -Throw -ErrorId 'PmpMail.ServiceAccountKeyNotSaved,PmpMail.Commands.RegisterPmpMailProfileCommand'
        }
        finally { $env:PMP_MAIL_PROFILE_DIR = $saved }
    }

    Context 'the key in an environment variable' {
        BeforeAll {
            $script:SavedProfileDir = $env:PMP_MAIL_PROFILE_DIR
            $env:PMP_MAIL_PROFILE_DIR = Join-Path $Emulator.StateDir 'profiles-env'
        }
        AfterAll {
            $env:PMP_MAIL_PROFILE_DIR = $script:SavedProfileDir
            Remove-Item Env:PMP_TEST_GMAIL_KEY, Env:PMP_TEST_GMAIL_NOKEY -ErrorAction Ignore
        }

        It 'sends with -ServiceAccountKeyEnvironmentVariable, and a profile keeps the variable''s name only' {
            $env:PMP_TEST_GMAIL_KEY = $KeyText
            $subject = "Gmail with the key in a variable $([guid]::NewGuid().ToString('n'))"
            Send-PmpMail -ServiceAccountKeyEnvironmentVariable 'PMP_TEST_GMAIL_KEY' @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'ci'
            (Get-EmulatorMessages | Where-Object subject -EQ $subject).provider | Should -Be 'gmail'

            $registered = Register-PmpMailProfile -Name 'gmail-env' -ServiceAccountKeyEnvironmentVariable 'PMP_TEST_GMAIL_KEY' -Impersonate $GoogleUser @gp -PassThru
            $registered.CredentialType | Should -Be 'GoogleServiceAccountKeyEnvironmentVariable'
            $registered.ServiceAccountKeyEnvironmentVariable | Should -Be 'PMP_TEST_GMAIL_KEY'
            $file = Get-Content -Raw $registered.Path
            $file | Should -Match '"ServiceAccountKeyEnvironmentVariable":\s*"PMP_TEST_GMAIL_KEY"'
            $file | Should -Not -Match 'PRIVATE KEY'
            $file | Should -Not -Match 'private_key'
            $file.Contains($KeySecretPart) | Should -BeFalse

            $subject = "Gmail through an environment-variable profile $([guid]::NewGuid().ToString('n'))"
            Send-PmpMail -ProfileName 'gmail-env' -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'profile'
            (Get-EmulatorMessages | Where-Object subject -EQ $subject).mailbox | Should -Be $GoogleUser
            (Test-PmpMailPermission -ProfileName 'gmail-env' | Where-Object Permission -EQ 'gmail.send').Status | Should -Be 'Granted'
            $connection = Connect-PmpMail -ProfileName 'gmail-env' -PassThru
            try { $connection.ServiceAccountKeyEnvironmentVariable | Should -Be 'PMP_TEST_GMAIL_KEY' }
            finally { Disconnect-PmpMail }
        }

        It 'names a variable that is not set or empty, and shows nothing of one that holds no key' {
            Remove-Item Env:PMP_TEST_GMAIL_NOKEY -ErrorAction Ignore
            $unset = { Send-PmpMail -ServiceAccountKeyEnvironmentVariable 'PMP_TEST_GMAIL_NOKEY' @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' } |
                Should -Throw -ErrorId 'PmpMail.ServiceAccountKeyEnvironmentVariableNotSet,PmpMail.Commands.SendPmpMailCommand' -PassThru
            "$unset" | Should -Match "'PMP_TEST_GMAIL_NOKEY'"

            Register-PmpMailProfile -Name 'gmail-nokey' -ServiceAccountKeyEnvironmentVariable 'PMP_TEST_GMAIL_NOKEY' -Impersonate $GoogleUser @gp
            { Test-PmpMailPermission -ProfileName 'gmail-nokey' } |
                Should -Throw -ErrorId 'PmpMail.ServiceAccountKeyEnvironmentVariableNotSet,PmpMail.Commands.TestPmpMailPermissionCommand'

            # A truncated key, the key file's path, and a key whose PEM is broken: each names the variable, none shows it.
            $broken = $KeyText.Substring(0, $KeyText.Length - 20)
            $badPem = $KeyText.Replace($KeySecretPart, $KeySecretPart.Substring(0, 10) + '!!!' + $KeySecretPart.Substring(13))
            foreach ($value in $broken, $KeyPath, $badPem) {
                $env:PMP_TEST_GMAIL_NOKEY = $value
                $e = { Send-PmpMail -ProfileName 'gmail-nokey' -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' -Verbose 4>$null } |
                    Should -Throw -ErrorId 'PmpMail.ServiceAccountKeyEnvironmentVariableInvalid,PmpMail.Commands.SendPmpMailCommand' -PassThru
                $text = "$e $($e.Exception) $($e.Exception.InnerException)"
                $text | Should -Match "'PMP_TEST_GMAIL_NOKEY'"
                $text | Should -Match '-ServiceAccountKeyPath'
                $text | Should -Not -Match 'PRIVATE KEY'
                $text.Contains($KeySecretPart.Substring(13, 30)) | Should -BeFalse
            }
            $env:PMP_TEST_GMAIL_NOKEY = '  '
            { Send-PmpMail -ProfileName 'gmail-nokey' -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' } |
                Should -Throw -ErrorId 'PmpMail.ServiceAccountKeyEnvironmentVariableNotSet,PmpMail.Commands.SendPmpMailCommand'
        }
    }

    Context 'a certificate that signs (the key uploaded to the service account)' {
        BeforeAll {
            # A key the emulator registered, as a self-signed certificate with its private key: what an admin's
            # uploaded certificate looks like to Google.
            $key = New-GoogleKey $GoogleAccount | ConvertFrom-Json
            $script:CertKeyId = $key.private_key_id
            $script:CertKeyPart = ($key.private_key -split "`n")[5]
            $rsa = [Security.Cryptography.RSA]::Create()
            $rsa.ImportFromPem($key.private_key)
            $request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=pmp-mail pester google', $rsa, 'SHA256', [Security.Cryptography.RSASignaturePadding]::Pkcs1)
            $script:SaCert = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddDays(-1), [DateTimeOffset]::UtcNow.AddDays(30))
            $script:sa = @{ ServiceAccountEmail = $GoogleAccount; ServiceAccountKeyId = $CertKeyId }
            $script:SavedProfileDir = $env:PMP_MAIL_PROFILE_DIR
            $env:PMP_MAIL_PROFILE_DIR = Join-Path $Emulator.StateDir 'profiles-cert'
        }
        AfterAll {
            $env:PMP_MAIL_PROFILE_DIR = $script:SavedProfileDir
            Disconnect-PmpMail -ErrorAction SilentlyContinue
        }

        It 'sends with -Certificate, one token for two mails through a connection' {
            $before = @(Invoke-Emulator 'google/tokens' | Where-Object { $_.serviceAccount -eq $GoogleAccount -and $_.subject -eq $GoogleUser }).issued | Measure-Object -Sum
            $connection = New-PmpMailConnection -Certificate $SaCert @sa -ClientId $GoogleClientId -Impersonate $GoogleUser @gp -Verbose 4>&1 | Tee-Object -Variable out | Where-Object { $_ -is [PmpMail.PmpMailConnection] }
            try {
                $connection.Provider | Should -Be 'GoogleWorkspace'
                $connection.CredentialType | Should -Be 'GoogleServiceAccountCertificate'
                $connection.CertificateThumbprint | Should -Be $SaCert.Thumbprint
                $connection.ServiceAccountEmail | Should -Be $GoogleAccount
                (ConvertTo-StreamText $out) | Should -Match "key $CertKeyId"
                $subjects = 1..2 | ForEach-Object { "Gmail signed with a certificate $_ $([guid]::NewGuid().ToString('n'))" }
                foreach ($subject in $subjects) {
                    Send-PmpMail -Connection $connection -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'signed in .NET'
                }
                foreach ($subject in $subjects) { (Get-EmulatorMessages | Where-Object subject -EQ $subject).provider | Should -Be 'gmail' }
                $report = Test-PmpMailPermission -Connection $connection
                ($report | Where-Object Permission -EQ 'gmail.send').Status | Should -Be 'Granted'
                ($report | Where-Object Permission -EQ 'gmail.send').AppId | Should -Be $GoogleClientId
            }
            finally { $connection.Dispose() }
            $after = @(Invoke-Emulator 'google/tokens' | Where-Object { $_.serviceAccount -eq $GoogleAccount -and $_.subject -eq $GoogleUser }).issued | Measure-Object -Sum
            ($after.Sum - $before.Sum) | Should -Be 1
        }

        It 'sends with -CertificatePath (a PFX) and with -CertificateThumbprint from CurrentUser\My, and a profile keeps the thumbprint' {
            $pfx = Join-Path $Emulator.StateDir 'google-signer.pfx'
            [IO.File]::WriteAllBytes($pfx, $SaCert.Export('Pfx'))
            $subject = "Gmail signed by a PFX $([guid]::NewGuid().ToString('n'))"
            Send-PmpMail -CertificatePath $pfx @sa @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'pfx'
            (Get-EmulatorMessages | Where-Object subject -EQ $subject).provider | Should -Be 'gmail'

            # X509Store works on Linux for CurrentUser\My (a folder under ~/.dotnet); LocalMachine\My only on Windows.
            $store = [Security.Cryptography.X509Certificates.X509Store]::new('My', 'CurrentUser')
            $store.Open('ReadWrite')
            $persisted = [Security.Cryptography.X509Certificates.X509Certificate2]::new($SaCert.Export('Pfx', 'tmp'), 'tmp', [Security.Cryptography.X509Certificates.X509KeyStorageFlags]'PersistKeySet,Exportable')
            $store.Add($persisted)
            try {
                $subject = "Gmail signed by a store certificate $([guid]::NewGuid().ToString('n'))"
                Send-PmpMail -CertificateThumbprint $SaCert.Thumbprint.ToLowerInvariant() @sa @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'store'
                (Get-EmulatorMessages | Where-Object subject -EQ $subject).provider | Should -Be 'gmail'

                $registered = Register-PmpMailProfile -Name 'gmail-cert' -Certificate $SaCert @sa -Impersonate $GoogleUser @gp -PassThru
                $registered.CredentialType | Should -Be 'GoogleServiceAccountCertificateThumbprint'
                $registered.CertificateThumbprint | Should -Be $SaCert.Thumbprint
                $registered.ServiceAccountEmail | Should -Be $GoogleAccount
                $registered.ServiceAccountKeyId | Should -Be $CertKeyId
                $file = Get-Content -Raw $registered.Path
                $file | Should -Not -Match 'PRIVATE KEY'
                $file.Contains($CertKeyPart) | Should -BeFalse
                $subject = "Gmail through a certificate profile $([guid]::NewGuid().ToString('n'))"
                Send-PmpMail -ProfileName 'gmail-cert' -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'profile'
                (Get-EmulatorMessages | Where-Object subject -EQ $subject).provider | Should -Be 'gmail'
            }
            finally {
                $store.Remove($persisted)
                $store.Close()
            }
            { Send-PmpMail -ProfileName 'gmail-cert' -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' } |
                Should -Throw -ErrorId 'PmpMail.CertificateNotFound,PmpMail.Commands.SendPmpMailCommand'
        }

        It 'a wrong key id is Google''s signature error with its remedy; bad arguments are named; the key is never shown' {
            $streams = @(
                try { Send-PmpMail -Certificate $SaCert -ServiceAccountEmail $GoogleAccount -ServiceAccountKeyId 'not-the-key-id' @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' -Verbose *>&1 }
                catch { $_ }
            )
            $failure = $streams | Where-Object { $_ -is [Management.Automation.ErrorRecord] } | Select-Object -Last 1
            $failure.FullyQualifiedErrorId | Should -Be 'PmpMail.AuthenticationFailed,PmpMail.Commands.SendPmpMailCommand'
            "$failure" | Should -Match 'Invalid JWT Signature'
            "$failure" | Should -Match 'not-the-key-id'
            "$failure" | Should -Match 'Remedy: .*Keys'
            $text = ConvertTo-StreamText $streams
            # Case-sensitive: -Verbose says 'the private key stays in .NET'; a PEM header is upper case.
            $text | Should -Not -MatchExactly 'PRIVATE KEY'
            $text | Should -Not -Match '-----BEGIN'
            $text.Contains($CertKeyPart) | Should -BeFalse

            { Send-PmpMail -Certificate $SaCert -ServiceAccountEmail 'sender' -ServiceAccountKeyId $CertKeyId @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' } |
                Should -Throw -ErrorId 'PmpMail.ServiceAccountEmailInvalid,PmpMail.Commands.SendPmpMailCommand'
            $publicOnly = [Security.Cryptography.X509Certificates.X509Certificate2]::new($SaCert.RawData)
            $e = { Send-PmpMail -Certificate $publicOnly @sa @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' } |
                Should -Throw -ErrorId 'PmpMail.ServiceAccountCertificateInvalid,PmpMail.Commands.SendPmpMailCommand' -PassThru
            "$e" | Should -Match 'no private key'
            { Send-PmpMail -CertificateThumbprint ' :: ' @sa @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' } |
                Should -Throw -ErrorId 'PmpMail.CertificateThumbprintInvalid,PmpMail.Commands.SendPmpMailCommand'
        }

        It 'keeps the parameter sets unambiguous: Google''s certificate sets need -ServiceAccountEmail, Entra''s -TenantId' {
            foreach ($name in 'Send-PmpMail', 'Test-PmpMailPermission', 'Connect-PmpMail', 'New-PmpMailConnection', 'Register-PmpMailProfile') {
                $sets = (Get-Command $name).ParameterSets
                foreach ($set in 'ServiceAccountCertificateThumbprint', 'ServiceAccountCertificate', 'ServiceAccountCertificatePath') {
                    $parameters = ($sets | Where-Object Name -EQ $set).Parameters
                    ($parameters | Where-Object Name -EQ 'ServiceAccountEmail').IsMandatory | Should -BeTrue -Because "$name $set"
                    ($parameters | Where-Object Name -EQ 'ServiceAccountKeyId').IsMandatory | Should -BeTrue -Because "$name $set"
                    $parameters.Name | Should -Not -Contain 'TenantId' -Because "$name $set"
                }
                foreach ($set in 'CertificateThumbprint', 'Certificate', 'CertificatePath') {
                    ($sets | Where-Object Name -EQ $set).Parameters.Name | Should -Not -Contain 'ServiceAccountEmail' -Because "$name $set"
                }
                (($sets | Where-Object Name -EQ 'ServiceAccountKeyEnvironmentVariable').Parameters | Where-Object Name -EQ 'ServiceAccountKeyEnvironmentVariable').IsMandatory | Should -BeTrue
            }
            # Every set of Send-PmpMail is still distinguishable: no two have the same mandatory parameters.
            $signatures = (Get-Command Send-PmpMail).ParameterSets | ForEach-Object { ($_.Parameters | Where-Object IsMandatory | ForEach-Object Name | Sort-Object) -join ',' }
            $signatures | Group-Object | Where-Object Count -GT 1 | Should -BeNullOrEmpty
        }
    }

    It 'sends small and large attachments byte-exact (the large one through the resumable upload) with non-ASCII subject, body, names and file names' {
        $small = Join-Path $Emulator.StateDir 'klein ü.bin'
        $large = Join-Path $Emulator.StateDir 'groß 日本.bin'
        $smallBytes = [Security.Cryptography.RandomNumberGenerator]::GetBytes(1000)
        # Above the 5 MiB of Gmail's multipart upload: the message goes through a resumable session.
        $largeBytes = [Security.Cryptography.RandomNumberGenerator]::GetBytes(6MB + 5)
        [IO.File]::WriteAllBytes($small, $smallBytes)
        [IO.File]::WriteAllBytes($large, $largeBytes)
        $subject = "Größe – 漢字 ✓ $([guid]::NewGuid().ToString('n'))"
        $result = Send-PmpMail -ServiceAccountKeyPath $KeyPath @gp -From "Zoë Ärger <$GoogleUser>" -To 'Jörg Müller <joerg@elsewhere.example>' `
            -Subject $subject -Body 'Grüße – naïve ✓' -Attachments $small, $large -PassThru
        $result.Status | Should -Be 'sent'
        $result.UploadSession | Should -BeTrue
        $recorded = @(Get-EmulatorMessages | Where-Object subject -CEQ $subject)
        $recorded | Should -HaveCount 1
        $m = $recorded[0]
        $m.via | Should -Be 'gmail:resumable'
        $m.from.name | Should -BeExactly 'Zoë Ärger'
        $m.to[0].name | Should -BeExactly 'Jörg Müller'
        $m.body | Should -Match 'Grüße – naïve ✓'
        @($m.attachments) | Should -HaveCount 2
        ($m.attachments | Where-Object name -CEQ 'klein ü.bin').sha256 | Should -Be (Get-Sha256Hex $smallBytes)
        $big = $m.attachments | Where-Object name -CEQ 'groß 日本.bin'
        $big.size | Should -Be $largeBytes.Length
        $big.sha256 | Should -Be (Get-Sha256Hex $largeBytes)
    }

    It 'waits out a 429 from Gmail and sends once; the wait is in the result''s log and -Verbose' {
        $subject = "Gmail throttled $([guid]::NewGuid().ToString('n'))"
        Set-EmulatorFaults @{ path = 'gmailSend'; action = 'status'; status = 429; retryAfterSeconds = 1; graphCode = 'rateLimitExceeded'; count = 1 }
        try {
            $streams = @(Send-PmpMail -ServiceAccountKeyPath $KeyPath @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'x' -PassThru -Verbose *>&1)
        }
        finally { Clear-EmulatorFaults }
        $result = $streams | Where-Object { $_ -is [PmpMail.SendResult] }
        $result.Status | Should -Be 'sent'
        $result.Attempts | Should -Be 2
        $wait = @($result.Log | Where-Object { $_ -match 'HTTP 429 .*retrying in \d+ ms' })
        $wait | Should -HaveCount 1
        [int][regex]::Match($wait[0], 'retrying in (\d+) ms').Groups[1].Value | Should -BeGreaterOrEqual 1000 -Because 'Gmail asked for Retry-After: 1'
        (ConvertTo-StreamText @($streams | Where-Object { $_ -is [Management.Automation.VerboseRecord] })) | Should -Match 'HTTP 429'
        @(Get-EmulatorMessages | Where-Object subject -EQ $subject) | Should -HaveCount 1
        Assert-NoKey (ConvertTo-StreamText $streams)
    }

    It 'reports an answer lost after Gmail accepted the message as PmpMail.OutcomeUnknown and does not send it again' {
        $subject = "Gmail lost answer $([guid]::NewGuid().ToString('n'))"
        $sends = Get-GmailSendRequestCount
        $dropped = (Get-EmulatorCounters).droppedAfterAccept
        Set-EmulatorFaults @{ path = 'gmailSend'; action = 'dropAfterAccept'; count = 1 }
        try {
            $streams = @(Send-PmpMail -ServiceAccountKeyPath $KeyPath @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'x' `
                    -Verbose -ErrorAction SilentlyContinue -ErrorVariable failures *>&1)
        }
        finally { Clear-EmulatorFaults }
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'PmpMail.OutcomeUnknown,PmpMail.Commands.SendPmpMailCommand'
        $failures[0].Exception | Should -BeOfType ([PmpMail.Interop.PmpMailOutcomeUnknownException])
        $failures[0].Exception.Detail.Outcome | Should -Be 'unknown'
        "$($failures[0])" | Should -Match 'Sent mail'
        @(Get-EmulatorMessages | Where-Object subject -EQ $subject) | Should -HaveCount 1 -Because 'Gmail accepted it once and it must not be sent again'
        (Get-EmulatorCounters).droppedAfterAccept | Should -Be ($dropped + 1)
        Get-GmailSendRequestCount | Should -Be $sends -Because 'the dropped request is not logged; a second attempt would be'
        Assert-NoKey (ConvertTo-StreamText ($streams + $failures))
    }

    It 'sends 8 messages at once as two users with one token request per user' {
        # A new key: nothing is cached for it, so every send of the batch needs a token at first.
        $key = Join-Path $Emulator.StateDir 'concurrent.json'
        Set-Content -LiteralPath $key -Value (New-GoogleKey $GoogleAccount) -Encoding utf8NoBOM
        $users = $GoogleUser, $GoogleUserB
        $before = @($users | ForEach-Object { Get-GoogleTokensIssued $_ })
        $run = [guid]::NewGuid().ToString('n')
        $rows = 0..7 | ForEach-Object { [pscustomobject]@{ From = $users[$_ % 2]; To = 'ops@elsewhere.example'; Subject = "Gmail concurrent $_ $run" } }
        $results = @($rows | Send-PmpMail -ServiceAccountKeyPath $key @gp -Body 'x' -ThrottleLimit 8 -PassThru)
        $results.Status | Should -Be (@('sent') * 8)
        # Once: the records carry every attachment's bytes (the 6 MiB one too).
        $recorded = Get-EmulatorMessages
        foreach ($i in 0..7) {
            @($recorded | Where-Object subject -EQ "Gmail concurrent $i $run").mailbox | Should -Be $users[$i % 2]
        }
        foreach ($u in 0..1) {
            (Get-GoogleTokensIssued $users[$u]) - $before[$u] | Should -Be 1 -Because "one token for $($users[$u]), however many sends wait for it"
        }
    }

    It 'never shows the key: not in output, -Verbose, warnings or errors' {
        $secure = ConvertTo-SecureString $KeyText -AsPlainText -Force
        $subject = "Gmail leak check $([guid]::NewGuid().ToString('n'))"
        $streams = @(
            Send-PmpMail -ServiceAccountKey $secure @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject $subject -Body 'x' -PassThru -Verbose *>&1
            Test-PmpMailPermission -ServiceAccountKey $secure -Impersonate $GoogleUser @gp -Verbose -Detailed *>&1
            Connect-PmpMail -ServiceAccountKey $secure -Impersonate $GoogleUser @gp -PassThru -Verbose *>&1
            Disconnect-PmpMail *>&1
            # An undelegated key and a key that is not JSON fail: their errors must not echo it either.
            $stranger = ConvertTo-SecureString (Get-Content -Raw $UndelegatedKeyPath) -AsPlainText -Force
            Test-PmpMailPermission -ServiceAccountKey $stranger -Impersonate $GoogleUser @gp -Verbose -ErrorAction Continue *>&1
            $broken = ConvertTo-SecureString ($KeyText.Substring(0, $KeyText.Length - 20)) -AsPlainText -Force
            try { Send-PmpMail -ServiceAccountKey $broken @gp -From $GoogleUser -To 'ops@elsewhere.example' -Subject 'never' -Body 'x' -Verbose *>&1 }
            catch { $_ }
        )
        $text = ConvertTo-StreamText $streams
        $text | Should -Match 'Google Workspace'
        $text | Should -Not -Match 'PRIVATE KEY'
        $text.Contains($KeySecretPart) | Should -BeFalse
        $text | Should -Not -Match '"private_key"'
        $text | Should -Not -Match 'ya29\.'
    }
}
