package app

import (
	"context"
	"fmt"
	"io"

	"miaohui/catalog"
)

// DemoPassword is the password of every seeded demo account.
const DemoPassword = "miaohui-demo-2026"

// demoAccounts are the accounts `fair demo` creates in an empty database.
var demoAccounts = []NewUser{
	{Email: "organizer@demo.miaohui.cn", Name: "泰州庙会组委会", Role: catalog.RoleOrganizer},
	{Email: "merchant@demo.miaohui.cn", Name: "老街臭干坊", Role: catalog.RoleMerchant},
	{Email: "shopper@demo.miaohui.cn", Name: "小王", Role: catalog.RoleShopper},
}

// seedDemo fills an empty database with the demo and prints how to sign in.
func seedDemo(ctx context.Context, s *Server, out io.Writer) error {
	n, err := s.db.NewSelect().Model((*User)(nil)).Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		for _, a := range demoAccounts {
			a.Password = DemoPassword
			if _, err := s.accounts.CreateUser(ctx, a); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(out, "\n  庙会 Miaohui demo — http://localhost%s\n  demo accounts (password %s):\n", s.cfg.HTTPAddr, DemoPassword)
	for _, a := range demoAccounts {
		fmt.Fprintf(out, "    %-10s %s\n", a.Role, a.Email)
	}
	fmt.Fprintln(out)
	return nil
}
