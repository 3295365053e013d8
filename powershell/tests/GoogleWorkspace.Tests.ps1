# Google Workspace through the cmdlets: a service account key (file or SecureString), domain-wide
# delegation granted and missing, and the key never in any output.
Describe 'Google Workspace' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:GoogleProject = 'pmp-pester'
        $script:GoogleAccount = 'sender@pmp-pester.iam.gserviceaccount.com'
        $script:GoogleClientId = '118000000000000000021'
        $script:UndelegatedAccount = 'stranger@pmp-pester.iam.gserviceaccount.com'
        $script:UndelegatedClientId = '118000000000000000022'
        $script:GoogleUser = 'alerts@pester.example'
        $directory = Get-TestDirectory
        $directory.google = @{
            projects        = @(@{ id = $GoogleProject })
            serviceAccounts = @(
                @{ project = $GoogleProject; clientEmail = $GoogleAccount; clientId = $GoogleClientId }
                @{ project = $GoogleProject; clientEmail = $UndelegatedAccount; clientId = $UndelegatedClientId }
            )
            domains         = @(@{
                    name        = 'pester.example'
                    users       = @(@{ address = $GoogleUser })
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
